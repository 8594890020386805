//! The manifest, open for appending under its lock: new lines only, a torn
//! tail repaired, other writers' lines caught up with.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use anyhow::{Context, Result};

use super::*;
use crate::catalog::{Catalog, Part};
use crate::jsonl;
use crate::manifest::{Entry, Identity, IdentitySet, read_identities};

/// The manifest, open for appending, and the identities of its lines up to
/// `indexed_to`; the rest is read under the lock before each append, so lines
/// other processes added are seen too.
#[derive(Debug)]
pub(super) struct OpenManifest {
    pub(super) file: File,
    /// None when the manifest is open only for reading.
    pub(super) lock: Option<File>,
    pub(super) indexed_to: u64,
    /// The identities learnt in memory: all of them for a dry run (which
    /// writes nothing, not even the catalog), else only this run's own.
    pub(super) known: IdentitySet,
    /// The manifest's identities on disk; None for a dry run.
    pub(super) catalog: Option<Catalog>,
}

impl OpenManifest {
    pub(super) fn open(path: &Path, lock_path: &Path, catalog: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(OpenManifest {
            file,
            lock: Some(open_lock_file(lock_path)?),
            indexed_to: 0,
            known: IdentitySet::default(),
            catalog: usable(Catalog::open(catalog)),
        })
    }

    /// The manifest for reading only (a dry run); an empty one when there
    /// is none yet.
    pub(super) fn open_to_read(path: &Path) -> Result<Self> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                File::open("/dev/null").context("opening /dev/null")?
            }
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        Ok(OpenManifest {
            file,
            lock: None,
            indexed_to: 0,
            known: IdentitySet::default(),
            catalog: None,
        })
    }

    /// Under the lock: repairs, catches up, and appends the entries whose
    /// identity is new.
    pub(super) fn append_new(&mut self, entries: &[Entry]) -> Result<Vec<bool>> {
        self.repair_torn_tail()?;
        self.catch_up()?;
        let mut text = Vec::new();
        let mut fresh = Vec::new();
        let appended = entries
            .iter()
            .map(|entry| -> Result<bool> {
                let id = entry.identity();
                let new = !fresh.contains(&id) && !self.contains(&id)?;
                if new {
                    text.extend_from_slice(&entry.to_line());
                    fresh.push(id);
                }
                Ok(new)
            })
            .collect::<Result<Vec<bool>>>()?;
        if !text.is_empty() {
            self.append(&text)?;
            // Known only once durable: a failed append must not hide a retry.
            if self.catalog.is_some() {
                self.catch_up()?;
            } else {
                for id in fresh {
                    self.known.insert(id);
                }
            }
        }
        Ok(appended)
    }

    /// Mends a last line without its newline (a crash mid-append left it):
    /// completed if it is a whole line, else cut off, and then its object
    /// is an orphan that the next run of the same input records again.
    pub(super) fn repair_torn_tail(&mut self) -> io::Result<()> {
        let len = jsonl::repair_torn_tail(&self.file)?;
        self.indexed_to = self.indexed_to.min(len);
        Ok(())
    }

    /// Whether a line of this identity is in the manifest, as far as read.
    pub(super) fn contains(&mut self, id: &Identity) -> Result<bool> {
        if let Some(catalog) = &self.catalog {
            match catalog.contains(id) {
                Ok(found) => return Ok(found),
                Err(e) => self.without_catalog(&e)?,
            }
        }
        Ok(self.known.contains(id))
    }

    /// Learns the identities of lines appended since the last look: into
    /// the catalog, or (a dry run, or a catalog that failed) into memory.
    pub(super) fn catch_up(&mut self) -> Result<()> {
        if let Some(catalog) = &mut self.catalog {
            match catalog.catch_up(&self.file, Part::Identities) {
                Ok(end) => {
                    self.indexed_to = end;
                    return Ok(());
                }
                Err(e) => self.without_catalog(&e)?,
            }
        }
        self.catch_up_in_memory()?;
        Ok(())
    }

    /// Goes on without the catalog (it is only ever a speed-up): what the
    /// manifest holds is read into memory, as a dry run does.
    fn without_catalog(&mut self, error: &anyhow::Error) -> Result<()> {
        say!("warning: going on without the catalog: {error:#}");
        self.catalog = None;
        self.known = IdentitySet::default();
        self.indexed_to = 0;
        self.catch_up_in_memory()?;
        Ok(())
    }

    fn catch_up_in_memory(&mut self) -> io::Result<()> {
        self.indexed_to = read_identities(&self.file, self.indexed_to, &mut self.known)?;
        Ok(())
    }

    pub(super) fn append(&mut self, text: &[u8]) -> io::Result<()> {
        self.indexed_to = jsonl::append_durably(&self.file, self.indexed_to, text)?;
        Ok(())
    }
}

/// The catalog, or None (after saying why) when it cannot be opened: the
/// run goes on reading the manifest into memory.
fn usable(opened: Result<Catalog>) -> Option<Catalog> {
    match opened {
        Ok(catalog) => Some(catalog),
        Err(e) => {
            say!("warning: going on without the catalog: {e:#}");
            None
        }
    }
}
