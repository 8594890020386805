//! The manifest, open for appending under its lock: new lines only, a torn
//! tail repaired, other writers' lines caught up with.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context, Result};

use super::*;
use crate::jsonl;
use crate::manifest::{Entry, IdentitySet, LineIdentity};

/// The manifest, open for appending, and the identities of its lines up to
/// `indexed_to`; the rest is read under the lock before each append, so lines
/// other processes added are seen too.
#[derive(Debug)]
pub(super) struct OpenManifest {
    pub(super) file: File,
    /// None when the manifest is open only for reading.
    pub(super) lock: Option<File>,
    pub(super) indexed_to: u64,
    pub(super) known: IdentitySet,
}

impl OpenManifest {
    pub(super) fn open(path: &Path, lock_path: &Path) -> Result<Self> {
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
        })
    }

    /// Under the lock: repairs, catches up, and appends the entries whose
    /// identity is new.
    pub(super) fn append_new(&mut self, entries: &[Entry]) -> io::Result<Vec<bool>> {
        self.repair_torn_tail()?;
        self.catch_up()?;
        let mut text = Vec::new();
        let mut fresh = Vec::new();
        let appended = entries
            .iter()
            .map(|entry| {
                let id = entry.identity();
                let new = !self.known.contains(&id) && !fresh.contains(&id);
                if new {
                    text.extend_from_slice(&entry.to_line());
                    fresh.push(id);
                }
                new
            })
            .collect();
        if !text.is_empty() {
            self.append(&text)?;
            // Known only once durable: a failed append must not hide a retry.
            for id in fresh {
                self.known.insert(id);
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

    /// Learns the identities of lines appended since the last look.
    pub(super) fn catch_up(&mut self) -> io::Result<()> {
        let mut reader = BufReader::with_capacity(64 * 1024, &self.file);
        reader.seek(SeekFrom::Start(self.indexed_to))?;
        let mut lines = jsonl::Lines::<_, LineIdentity>::new(reader, self.indexed_to);
        for line in lines.by_ref() {
            if let jsonl::Line::Value(LineIdentity(identity)) = line? {
                self.known.insert(identity);
            }
        }
        self.indexed_to = lines.offset();
        Ok(())
    }

    pub(super) fn append(&mut self, text: &[u8]) -> io::Result<()> {
        self.indexed_to = jsonl::append_durably(&self.file, self.indexed_to, text)?;
        Ok(())
    }
}
