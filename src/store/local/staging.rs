//! Staging: temp files in `tmp/`, written with write-back started as they
//! grow, made durable, and renamed to their objects' names.

use std::fs::{self, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tempfile::NamedTempFile;

use super::*;
use crate::interrupt::Tracked;
use crate::store::flusher::{Background, write_back};
use crate::store::{Committed, Stager};

/// Stages objects in the store's `tmp/`, on the same filesystem as
/// `objects/`, so that publishing is a rename.
#[derive(Debug, Clone)]
pub struct LocalStager {
    pub(super) tmp: PathBuf,
}

impl Stager for LocalStager {
    type Staged = LocalStaging;

    fn stage(&self) -> Result<LocalStaging> {
        // Read-only from the start (the descriptor still writes): objects
        // are never changed, and no chmod per object. Held (locked) until
        // it is renamed or removed: `gc` leaves it alone meanwhile.
        let (temp, tracked) = crate::store::held::create(&self.tmp, |dir| {
            tempfile::Builder::new()
                .prefix("ingest-")
                .suffix(".tmp")
                .permissions(Permissions::from_mode(0o444))
                .tempfile_in(dir)
        })
        .with_context(|| format!("creating a temp file in {}", self.tmp.display()))?;
        Ok(LocalStaging {
            temp,
            _tracked: tracked,
            written: 0,
            writeback_to: 0,
            flushing: None,
        })
    }

    fn make_durable(&self, staged: &mut LocalStaging) -> Result<()> {
        staged.sync()
    }
}

/// An object being written: a temp file in `tmp/`, removed if dropped.
pub struct LocalStaging {
    temp: NamedTempFile,
    _tracked: Tracked,
    /// Bytes written so far, and how far write-back has been started.
    written: u64,
    writeback_to: u64,
    /// Syncs in the background, once the object is past one window (and
    /// the process has a syncing thread).
    flushing: Option<Background>,
}

/// Write-back is started, and a background sync asked for, every this many
/// bytes, so the disk works while the rest is still read and hashed, and
/// the closing fsync has little left.
pub(super) const WRITEBACK_WINDOW: u64 = 4 << 20;

impl Write for LocalStaging {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.temp.write(buf)?;
        self.written += n as u64;
        while self.written - self.writeback_to >= WRITEBACK_WINDOW {
            let start = self.writeback_to;
            // A hint: an error here is still the fsync's to report.
            let _ = write_back(self.temp.as_file(), start, WRITEBACK_WINDOW, false);
            // Wait for the window before last: dirty pages stay bounded and
            // the writer runs at the disk's pace, not ahead of it.
            if let Some(older) = start.checked_sub(2 * WRITEBACK_WINDOW) {
                write_back(self.temp.as_file(), older, WRITEBACK_WINDOW, true)?;
            }
            self.writeback_to += WRITEBACK_WINDOW;
            if self.flushing.is_none() {
                self.flushing = Background::of(self.temp.as_file());
            }
            if let Some(flushing) = &self.flushing {
                flushing.request();
            }
        }
        Ok(n)
    }

    /// The input has ended: start writing back what is left, so the sync
    /// at publish finds the disk already at work on it (for a batch of
    /// small files, while the next ones stream).
    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()?;
        if self.written > self.writeback_to {
            let start = self.writeback_to;
            let _ = write_back(self.temp.as_file(), start, self.written - start, false);
            self.writeback_to = self.written;
        }
        Ok(())
    }
}

impl LocalStaging {
    /// Makes the bytes durable: what the background syncs left, and any
    /// error they met.
    pub(super) fn sync(&mut self) -> Result<()> {
        self.settle()?;
        self.temp
            .as_file()
            .sync_all()
            .with_context(|| format!("syncing {}", self.temp.path().display()))
    }

    /// Ends the background syncs, returning the error of one that failed.
    pub(super) fn settle(&self) -> Result<()> {
        match &self.flushing {
            Some(flushing) => flushing
                .settle()
                .with_context(|| format!("syncing {}", self.temp.path().display())),
            None => Ok(()),
        }
    }

    /// Renames the (durable) temp file to `target` unless that exists.
    pub(super) fn rename_to(self, target: &Path) -> Result<Committed> {
        let LocalStaging { temp, _tracked, .. } = self;
        let renamed = |temp: NamedTempFile| match temp.persist_noclobber(target) {
            Ok(_) => Ok(Committed::New),
            // Another run stored the same content a moment ago.
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                Ok(Committed::AlreadyPresent)
            }
            Err(e) => Err(e),
        };
        match renamed(temp) {
            // Its folder was removed under this long-running writer (which
            // remembers the folders it made): made again, and synced into
            // its parent before the rename is counted on.
            Err(e) if e.error.kind() == io::ErrorKind::NotFound => {
                let folder = target.parent().unwrap_or(target);
                fs::create_dir_all(folder)
                    .with_context(|| format!("creating {}", folder.display()))?;
                sync_dir(folder.parent().unwrap_or(folder))?;
                renamed(e.file)
            }
            other => other,
        }
        .map_err(|e| anyhow::Error::new(e.error))
        .with_context(|| format!("renaming to {}", target.display()))
    }
}
