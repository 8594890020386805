//! The store's locks: `gc.lock`, held shared by every writer and
//! exclusively by gc, and the waits for them.

use std::fs::File;
use std::fs::TryLockError;
use std::io;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::*;

impl LocalStore {
    /// Starts writing: holds `gc.lock` shared until this handle is dropped,
    /// so no `gc` removes what this run publishes or finds present (see the
    /// module documentation), and repairs a torn last manifest line, so
    /// that a crash's damage is mended by the next run that can write,
    /// whether or not it appends anything.
    pub fn begin_writing(&mut self) -> Result<()> {
        self.writing = Some(self.lock_gc(self.wait_lock, Lock::Shared)?);
        // Looked at first without writing: a store this user may not write
        // then fails where the run writes, not here.
        let manifest = self.path(MANIFEST);
        match File::open(&manifest).and_then(|f| jsonl::has_torn_tail(&f)) {
            Ok(false) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            _ => {
                self.with_manifest_lock(|manifest| manifest.repair_torn_tail().map_err(Into::into))
            }
        }
    }

    /// Holds `gc.lock` exclusively: no writer runs until the guard is
    /// dropped, and none is running now. Waits at most the wait-lock time.
    pub fn exclude_writers(&self, wait: Duration) -> Result<File> {
        self.lock_gc(wait, Lock::Exclusive)
    }

    /// Takes `gc.lock` as asked, within `wait`; the error says who holds it.
    pub(super) fn lock_gc(&self, wait: Duration, how: Lock) -> Result<File> {
        let path = self.path(GC_LOCK);
        let lock = open_lock_file(&path)?;
        let holder = match how {
            Lock::Shared => " (an ingest gc is removing objects)",
            Lock::Exclusive => {
                ": another ingest is writing to the store, and orphans can only be told apart from its objects once it ends"
            }
        };
        lock_within(&lock, wait, how)
            .with_context(|| format!("locking {}{holder}", path.display()))?;
        Ok(lock)
    }
}

/// How a lock file is held.
#[derive(Debug, Clone, Copy)]
pub(super) enum Lock {
    Shared,
    Exclusive,
}

/// Takes the lock, waiting at most `wait` for another process to let go.
pub(super) fn lock_within(lock: &File, wait: Duration, how: Lock) -> Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let tried = match how {
            Lock::Shared => lock.try_lock_shared(),
            Lock::Exclusive => lock.try_lock(),
        };
        match tried {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(crate::store::Busy(format!(
                    "gave up after {:.1} s waiting for another ingest to release it (--wait-lock)",
                    wait.as_secs_f64()
                ))
                .into());
            }
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
    }
}
