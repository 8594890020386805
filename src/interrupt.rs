//! Ctrl-C, SIGTERM and SIGHUP: remove the temp files in flight, then die of
//! the signal, so the shell sees how the run ended and nothing partial stays.
//!
//! A thread waits for the signal rather than a handler running it, so the
//! cleanup may allocate and take locks; it also works while the main thread
//! is blocked reading a silent pipe.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::thread;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The temp files in flight, each under the number its [`Tracked`] holds:
/// a batch keeps hundreds, and forgetting one compares numbers, not paths.
static IN_FLIGHT: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Held shared while a temp file is created and listed, and exclusively by
/// the cleanup: so no file is ever created but not yet listed when the
/// cleanup runs, while threads creating files at once do not wait for each
/// other (creating a file can take a while on a busy disk).
static CREATING: RwLock<()> = RwLock::new(());

fn in_flight() -> MutexGuard<'static, Vec<(u64, PathBuf)>> {
    // A poisoned list is still the right list: the panic did not happen mid-update.
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts the thread that cleans up on a terminating signal.
pub fn install() -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Hold both until the process is gone: no new temp file can
                // appear once the cleanup has started.
                let _creating = CREATING
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let paths = in_flight();
                for (_, path) in paths.iter() {
                    let _ = fs::remove_file(path);
                }
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// A temp file that a signal must remove. Dropping it forgets the path
/// (after the file was renamed into place or removed).
#[derive(Debug)]
pub struct Tracked(u64);

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut paths = in_flight();
        if let Some(i) = paths.iter().rposition(|(id, _)| *id == self.0) {
            paths.swap_remove(i);
        }
    }
}

/// Creates a temp file with `create` and tracks its path, atomically with
/// respect to the signal thread: a signal can never fall between the two.
pub fn track<T>(
    create: impl FnOnce() -> io::Result<T>,
    path_of: impl Fn(&T) -> &Path,
) -> io::Result<(T, Tracked)> {
    let _creating = CREATING
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let made = create()?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    in_flight().push((id, path_of(&made).to_path_buf()));
    Ok((made, Tracked(id)))
}
