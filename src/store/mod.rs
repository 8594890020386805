//! The store: where objects and the manifest live, behind one interface so
//! that a local directory and an S3 prefix serve the same engine.

mod flusher;
pub(crate) mod held;
mod local;
mod lookup;
mod open;
mod s3;
mod view;

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub use crate::catalog::{EntryQuery, NamedObject, ObjectFacts, month_of};
pub use local::{LocalStager, LocalStore, ObjectFile};
pub use lookup::LookupError;
pub use open::{Access, Location, Opened, Opener};
pub use s3::{S3Location, S3Settings, S3Store, SpoolStager, Unfinished};
pub use view::{
    Leftover, LineIter, Listed, ListedIter, NamedObjects, Paired, PairedObjects, RecordKind,
    Removed, StoreView, WritersExcluded,
};

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

/// Where a store's local helpers live (the files cache and spool of an
/// S3 store): `$XDG_CACHE_HOME/ingest`, else `~/.cache/ingest`.
pub fn cache_location() -> Option<PathBuf> {
    let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(cache) = std::env::var_os("XDG_CACHE_HOME").and_then(absolute) {
        return Some(cache.join("ingest"));
    }
    let home = std::env::var_os("HOME").and_then(absolute)?;
    Some(home.join(".cache/ingest"))
}

/// A lock another run held for longer than the wait: a passing state
/// (the server answers 503), not damage.
#[derive(Debug)]
pub struct Busy(pub String);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Busy {}

impl Busy {
    /// Whether `error` is, or was caused by, a lock not got in time.
    pub fn caused(error: &anyhow::Error) -> bool {
        error.chain().any(|cause| cause.is::<Busy>())
    }
}

/// Whether a commit wrote the object or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    New,
    AlreadyPresent,
    /// Nothing stored: the input, read again to be uploaded, was no longer
    /// what its pass had read (see [`Stager::stage_file`]).
    Changed,
}

/// Makes the places where the bytes of inputs go while they stream in,
/// before they have a name. It is apart from the store so that the threads
/// streaming small inputs side by side can each hold one, while the store
/// stays with the thread that publishes.
pub trait Stager: Clone + Send + 'static {
    /// An object being written. Nothing staged is visible until published;
    /// dropping it leaves nothing behind.
    type Staged: io::Write + Send + 'static;

    fn stage(&self) -> Result<Self::Staged>;

    /// Stages the regular file `file` of `size` bytes, which the pass is
    /// about to read: a store may read it again rather than copy it.
    fn stage_file(&self, _file: &File, _size: u64) -> Result<Self::Staged> {
        self.stage()
    }

    /// Makes a staged object's bytes durable ahead of its publishing, on
    /// the thread that staged it: a server's uploads then sync side by
    /// side instead of one after another under the engine's lock (which
    /// publishing syncs again, then at little cost). Nothing to do for a
    /// store that publishes by uploading.
    fn make_durable(&self, _staged: &mut Self::Staged) -> Result<()> {
        Ok(())
    }
}

/// What the engine needs of a store to write into it; what it shares with
/// the read tools (its name, its listing) comes from [`StoreView`].
pub trait Backend: StoreView {
    type Staged: io::Write + Send + 'static;
    type Stager: Stager<Staged = Self::Staged>;

    fn stager(&self) -> Self::Stager;

    /// Makes staged objects durable, then visible each under its id, never
    /// replacing an object that exists (same name, same content). A batch is
    /// made durable at once, so many small objects cost one sync, not many.
    fn publish(&mut self, staged: Vec<(Self::Staged, ObjectId)>) -> Result<Vec<Committed>>;

    /// Appends the entries whose identity the manifest does not hold yet,
    /// durably, then runs `also` under the same lock (for the files cache);
    /// returns, for each entry, whether it was appended. Every object the
    /// entries name must be published already.
    fn record(
        &mut self,
        entries: &[Entry],
        also: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<bool>>;

    /// Whether object `id` is stored (for `--dry-run`).
    fn has_object(&self, id: &ObjectId) -> Result<bool>;

    /// Whether the manifest holds this entry's identity (for `--dry-run`).
    fn is_recorded(&mut self, entry: &Entry) -> Result<bool>;

    /// Whether the store still holds what was recorded for this entry: its
    /// manifest line and its object. The files cache is trusted for a file
    /// only while this holds, so a lost object or line (quarantined by
    /// verify, a store emptied, a torn tail cut off) is stored again.
    fn holds(&mut self, entry: &Entry) -> Result<bool>;

    /// The store's policy defaults, from its `config.json` (none if it
    /// has none).
    fn config(&self) -> Result<crate::policy::StoreConfig>;

    /// Where the catalog of this store lives on this machine (its files
    /// cache, and for a local store its index of the manifest).
    fn catalog_path(&self) -> PathBuf;

    /// The folders on this machine that belong to the store, which a walk
    /// never enters.
    fn local_folders(&self) -> Vec<PathBuf>;

    /// Whether each batch's manifest lines are written as one piece (an S3
    /// segment), so that objects are best made durable a batch at a time.
    fn records_in_batches(&self) -> bool;

    /// Makes a batch durable by syncing its own files and folders side by
    /// side (`alone`) rather than the whole filesystem at once. Nothing to
    /// do for a store that publishes by uploading.
    fn sync_batches_alone(&mut self, alone: bool) {
        let _ = alone;
    }

    /// Lets go of the writer's hold on the store (the shared lock that
    /// keeps `gc --orphans` out) until [`Backend::resume_writing`]: for a
    /// writer that lives long and writes now and then, a server, so that a
    /// nightly gc is not shut out for good. Nothing may be staged,
    /// published or found present while paused.
    fn pause_writing(&mut self);

    /// Holds the store as a writer again, waiting (as long as the store was
    /// opened to wait) for a gc to finish.
    fn resume_writing(&mut self) -> Result<()>;
}

/// Opens (creating) a file that is only ever locked, never written: for
/// reading when it exists, since flock needs no more, and a store the user
/// may not write then fails where the writing does.
pub(crate) fn open_lock_file(path: &Path) -> Result<File> {
    match File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path),
        opened => opened,
    }
    .with_context(|| format!("opening {}", path.display()))
}
