//! The store: where objects and the manifest live, behind one interface so
//! that a local directory and (later) an S3 prefix serve the same pipeline.

mod local;

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use anyhow::Result;
use serde::{Deserialize, Serialize};

pub use local::LocalStore;

use crate::manifest::Entry;
use crate::object_id::ObjectId;

/// The `store.json` every store starts with; a store of another format or a
/// newer version is refused, never written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreFormat {
    pub format: String,
    pub version: u32,
    pub hash: String,
}

impl StoreFormat {
    pub const FORMAT: &'static str = "ingest-store";
    pub const VERSION: u32 = 1;

    pub fn current() -> Self {
        StoreFormat {
            format: Self::FORMAT.into(),
            version: Self::VERSION,
            hash: "sha256".into(),
        }
    }

    /// Why this program must not touch a store of this format, if it must not.
    pub fn incompatibility(&self) -> Option<String> {
        if self.format != Self::FORMAT {
            Some(format!(
                "its format is {:?}, not {:?}",
                self.format,
                Self::FORMAT
            ))
        } else if self.version > Self::VERSION {
            Some(format!(
                "it is version {}, newer than this ingest knows ({}); upgrade ingest",
                self.version,
                Self::VERSION
            ))
        } else if self.hash != "sha256" {
            Some(format!("its hash is {:?}, not \"sha256\"", self.hash))
        } else {
            None
        }
    }
}

/// Where the store is when `--store` and `$INGEST_STORE` are not given:
/// `$XDG_DATA_HOME/ingest`, else `~/.local/share/ingest`.
pub fn default_location() -> Option<PathBuf> {
    let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").and_then(absolute) {
        return Some(data.join("ingest"));
    }
    let home = std::env::var_os("HOME").and_then(absolute)?;
    Some(home.join(".local/share/ingest"))
}

/// Whether a commit wrote the object or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    New,
    AlreadyPresent,
}

/// What the pipeline needs of a store.
pub trait Backend {
    /// Where the bytes of one input go while they stream in, before they
    /// have a name. Nothing staged is visible until committed.
    fn stage(&self) -> Result<Box<dyn Staging>>;

    /// Appends the entries whose identity the manifest does not hold yet,
    /// durably; returns, for each, whether it was appended. Every object the
    /// entries name must already be committed.
    fn record(&mut self, entries: Vec<Entry>) -> Result<Vec<bool>>;

    /// How to name this store in messages.
    fn describe(&self) -> String;
}

/// An object being written.
pub trait Staging: io::Write {
    /// Makes the bytes written so far durable and visible as object `id`,
    /// unless that object exists already. Dropping a staging without
    /// committing it leaves nothing behind.
    fn commit(self: Box<Self>, id: &ObjectId) -> Result<Committed>;
}
