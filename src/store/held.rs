//! Temp files that a writer holds while it writes them, so that `gc` never
//! removes one from under it, whatever age it is given.
//!
//! The writer holds an exclusive `flock` on its temp file from creation
//! until the file is renamed or removed; `gc` removes a temp file only
//! while it holds that same lock itself. A file is visible in its folder a
//! moment before its writer can lock it, and `gc` may take and remove it in
//! that moment, so the writer, once it holds the lock, checks that the
//! name still leads to its file and starts again if not.

use std::fs::{self, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use tempfile::NamedTempFile;

use crate::interrupt::{self, Tracked};

/// Times a writer starts again when `gc` took its new file: each time
/// needs a gc to run between a create and a lock, microseconds apart.
const ATTEMPTS: usize = 8;

/// A new temp file in `dir` made by `make`, locked, tracked so that an
/// interrupt removes it. A missing `dir` is made again (someone removed
/// it under a long-running writer).
pub fn create(
    dir: &Path,
    make: impl Fn(&Path) -> io::Result<NamedTempFile>,
) -> io::Result<(NamedTempFile, Tracked)> {
    for _ in 0..ATTEMPTS {
        let made = interrupt::track(|| make(dir), |t: &NamedTempFile| t.path());
        let (temp, tracked) = match made {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir)?;
                continue;
            }
            made => made?,
        };
        // Blocking: gc holds a temp file's lock only for a probe or a
        // removal, never longer.
        temp.as_file().lock()?;
        if still_named(&temp)? {
            return Ok((temp, tracked));
        }
    }
    Err(io::Error::other(format!(
        "{} changed under every temp file made there ({ATTEMPTS} tries)",
        dir.display()
    )))
}

/// Whether the temp file's name still leads to the file it opened.
fn still_named(temp: &NamedTempFile) -> io::Result<bool> {
    let opened = temp.as_file().metadata()?;
    match fs::symlink_metadata(temp.path()) {
        Ok(named) => Ok(named.dev() == opened.dev() && named.ino() == opened.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether a writer holds the temp file at `path` now.
pub fn in_use(path: &Path) -> bool {
    fs::File::open(path).is_ok_and(|f| matches!(f.try_lock_shared(), Err(TryLockError::WouldBlock)))
}

/// Removes the temp file at `path` unless a writer holds it: false when
/// one does (or it is gone already).
pub fn remove_unheld(path: &Path) -> io::Result<bool> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(false),
        Err(TryLockError::Error(e)) => return Err(e),
    }
    // Held by us: no writer can be using it, and a writer that made it a
    // moment ago and waits for its lock will see it gone and make another.
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}
