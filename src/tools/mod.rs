//! The store tools: subcommands that read the store back, check it and
//! clean it, each in constant memory per object.

pub mod cat;
pub mod copy;
pub mod export;
pub mod filter;
pub mod gc;
pub mod ls;
pub mod stats;
pub mod verify;

use std::io::{self, Write};

use anyhow::Result;

use crate::cli::GlobalArgs;
use crate::commands::Access;
use crate::store::StoreView;

/// Opens the store the tools read, local or S3; a missing store is an
/// error, not an empty listing, so a mistyped --store is noticed.
pub fn open_store(global: &GlobalArgs) -> Result<Box<dyn StoreView>> {
    open_at(global, &crate::store_location(global)?)
}

/// Opens the store at `place` (a directory or an S3 URL) for reading.
pub fn open_at(global: &GlobalArgs, place: &std::path::Path) -> Result<Box<dyn StoreView>> {
    let opened = crate::commands::open_store(global, place, Access::Read)?;
    Ok(opened.into_view())
}

/// Whether an error is a closed stdout (`ingest ls | head`): not a failure,
/// the reader simply wants no more.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    crate::failure::io_kinds(err).any(|k| k == io::ErrorKind::BrokenPipe)
}

/// Writes one line to stdout (buffered by the caller's lock).
pub fn line(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")
}
