//! The command line's front ends of the engine: each turns its arguments
//! into the engine's plain settings, opens the store, runs, and says how
//! the run ended as an exit code; and the one place every command opens
//! its store. (The store tools are in `crate::tools`.)

pub mod add;
pub mod mms;
pub mod serve;
pub mod token;

use std::path::Path;

use anyhow::{Context, Result};

use crate::Location;
use crate::cli::GlobalArgs;
use crate::store::{self, LocalStore, S3Store, StoreView};

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

/// A store opened for a command, local or S3.
// Made once per run and moved once into the engine: its size costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Opened {
    Local(LocalStore),
    S3(S3Store),
}

impl Opened {
    /// Where the tokens of `ingest serve` for this store are kept.
    pub fn tokens_path(&self) -> std::path::PathBuf {
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

/// Opens the store at `place` (a directory or an S3 URL): the one opener
/// of every command.
pub fn open_store(global: &GlobalArgs, place: &Path, access: Access) -> Result<Opened> {
    let wait = crate::wait_lock(global)?;
    match Location::of(place)? {
        Location::Local(root) => open_local(&root, access, wait).map(Opened::Local),
        Location::S3(location) => {
            let settings = store::S3Settings::from_env(global.s3_addressing.as_deref())?;
            let cache = store::cache_location()
                .context("no cache folder for the S3 store: set XDG_CACHE_HOME or HOME")?;
            let spool = global.spool.as_deref();
            let write = access == Access::Write;
            let mut store = S3Store::open(location, settings, &cache, spool, write)?;
            if write {
                store.begin_writing(wait)?;
            }
            Ok(Opened::S3(store))
        }
    }
}

fn open_local(root: &Path, access: Access, wait: std::time::Duration) -> Result<LocalStore> {
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
