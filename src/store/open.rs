//! The one place a store is found and opened, local or S3, for reading,
//! writing or a dry run. Front ends make an [`Opener`] once from their
//! options and ask it for stores; none assembles locations, access modes
//! or locks itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::{LocalStore, S3Location, S3Settings, S3Store, StoreView};

/// Where a store is: a local directory, or an S3 prefix.
#[derive(Debug, Clone)]
pub enum Location {
    Local(PathBuf),
    S3(S3Location),
}

impl Location {
    /// `s3://BUCKET/PREFIX` is an S3 store; anything else a directory.
    pub fn of(place: &Path) -> Result<Location> {
        match place.to_str().and_then(S3Location::parse) {
            Some(s3) => Ok(Location::S3(s3?)),
            None => Ok(Location::Local(place.to_path_buf())),
        }
    }
}

/// How a command means to use the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read it: it must exist.
    Read,
    /// Write into it: created if missing, and held as a writer's (so gc
    /// removes nothing a run in progress needs).
    Write,
    /// Pretend to write: it may not exist yet, and nothing is written,
    /// not even a lock.
    DryRun,
}

impl Access {
    /// Writing, unless this is a dry run.
    pub fn write_unless(dry_run: bool) -> Access {
        match dry_run {
            true => Access::DryRun,
            false => Access::Write,
        }
    }
}

/// A store opened for a command, local or S3.
// Made once per run and moved once into the engine: its size costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Opened {
    Local(LocalStore),
    S3(S3Store),
}

impl Opened {
    /// Where the tokens of `ingest serve` for this store are kept.
    pub fn tokens_path(&self) -> PathBuf {
        match self {
            Opened::Local(store) => crate::tokens::path_in(store.root()),
            Opened::S3(store) => store.tokens_path(),
        }
    }

    /// The store as the read tools (and the server's readers) see it.
    pub fn into_view(self) -> Box<dyn StoreView + Send + Sync> {
        match self {
            Opened::Local(store) => Box::new(store),
            Opened::S3(store) => Box::new(store),
        }
    }
}

/// Opens stores as the command line asked: the store it named (or the
/// default one), how long to wait for another run's lock, and how to
/// reach S3.
#[derive(Debug, Clone, Default)]
pub struct Opener {
    /// `--store` or `$INGEST_STORE`; None for the default location.
    pub store: Option<PathBuf>,
    pub wait_lock: Duration,
    /// `--s3-addressing`: `path` or `virtual`.
    pub s3_addressing: Option<String>,
    /// `--spool`: where an S3 store's inputs wait for their upload.
    pub spool: Option<PathBuf>,
}

impl Opener {
    /// The store's location: the one given, else the XDG data directory.
    pub fn place(&self) -> Result<PathBuf> {
        self.store
            .clone()
            .or_else(super::default_location)
            .context("no store location: pass --store DIR or set INGEST_STORE (HOME is not set)")
    }

    /// The store, opened for `access`.
    pub fn open(&self, access: Access) -> Result<Opened> {
        self.open_at(&self.place()?, access)
    }

    /// The store for reading, as the tools see it; a missing store is an
    /// error, not an empty listing, so a mistyped --store is noticed.
    pub fn view(&self) -> Result<Box<dyn StoreView + Send + Sync>> {
        Ok(self.open(Access::Read)?.into_view())
    }

    /// The store at `place` (a directory or an S3 URL), opened for
    /// `access`.
    pub fn open_at(&self, place: &Path, access: Access) -> Result<Opened> {
        match Location::of(place)? {
            Location::Local(root) => open_local(&root, access, self.wait_lock).map(Opened::Local),
            Location::S3(location) => {
                let settings = S3Settings::from_env(self.s3_addressing.as_deref())?;
                let cache = super::cache_location()
                    .context("no cache folder for the S3 store: set XDG_CACHE_HOME or HOME")?;
                let write = access == Access::Write;
                let spool = self.spool.as_deref();
                let mut store = S3Store::open(location, settings, &cache, spool, write)?;
                if write {
                    store.begin_writing(self.wait_lock)?;
                }
                Ok(Opened::S3(store))
            }
        }
    }
}

fn open_local(root: &Path, access: Access, wait: Duration) -> Result<LocalStore> {
    match access {
        Access::Read => LocalStore::open(root),
        Access::DryRun => {
            let store = LocalStore::at(root);
            match store.exists() {
                true => LocalStore::open(root),
                false => Ok(store),
            }
        }
        Access::Write => {
            let mut store = LocalStore::open_or_create(root)?.with_wait_lock(wait);
            store.begin_writing()?;
            Ok(store)
        }
    }
}
