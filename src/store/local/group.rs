//! Group commit: a batch made durable by syncing its own files, then its
//! own folders, many at once on a few threads. The filesystem's journal
//! takes the syncs that arrive together into few commits, so a batch of
//! small files costs about what one `syncfs` does on a quiet machine, and
//! unlike `syncfs` it flushes nobody else's dirty data on purpose.

use std::path::PathBuf;

use anyhow::Result;

use super::{LocalStaging, sync_dir};

/// Syncs at once, at most: enough for the journal to gather them, few
/// enough to be nothing beside the run.
const AT_ONCE: usize = 16;

/// Makes every file's bytes durable; the first failure is returned (the
/// others are still waited for).
pub(super) fn sync_files(files: &mut [&mut LocalStaging]) -> Result<()> {
    side_by_side(files, |file| file.sync())
}

/// Makes each folder's entries durable (the renames into it).
pub(super) fn sync_dirs(dirs: &mut [PathBuf]) -> Result<()> {
    side_by_side(dirs, |dir| sync_dir(dir))
}

/// Runs `sync` on every item, the items shared among at most [`AT_ONCE`]
/// threads.
fn side_by_side<T: Send>(
    items: &mut [T],
    sync: impl Fn(&mut T) -> Result<()> + Sync,
) -> Result<()> {
    let per_thread = items.len().div_ceil(AT_ONCE).max(1);
    let sync = &sync;
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks_mut(per_thread)
            .map(|share| scope.spawn(move || share.iter_mut().try_for_each(sync)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a sync thread panicked")))
            })
            .collect()
    });
    results.into_iter().collect()
}
