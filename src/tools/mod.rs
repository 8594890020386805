//! The store tools: subcommands that read the store back, check it and
//! clean it, each in constant memory per object.

pub mod block;
pub mod cat;
pub mod copy;
pub mod export;
pub mod filter;
pub mod gc;
pub mod ls;
pub mod rm;
pub mod stats;
pub mod trash;
pub mod uploads;
pub mod verify;

use std::io;

/// Whether an error is a closed stdout (`ingest ls | head`): not a failure,
/// the reader simply wants no more.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    crate::failure::io_kinds(err).any(|k| k == io::ErrorKind::BrokenPipe)
}

pub use crate::stdout::line;
