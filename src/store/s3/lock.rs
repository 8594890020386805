//! Locks on an S3 store, where no flock exists, after restic's: a lock is
//! a small object under `locks/`, `shared-…` for a writer and
//! `exclusive-…` for `gc --orphans`. A run writes its lock first and then
//! lists the others: a writer that sees a live exclusive lock, or a gc
//! that sees any other live lock, removes its own and tries again until
//! its wait runs out. Two that start at once both see each other and
//! both back off, so at most one side ever goes on. S3's listings are
//! strongly consistent (AWS since 2020, SeaweedFS, Ceph RGW), which is
//! what makes this sound.
//!
//! A machine that dies keeps its lock, so a lock not rewritten for
//! [`STALE`] (by the server's clock: every age is read from the listing)
//! is ignored; a live run rewrites its lock every [`REFRESH`].

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, anyhow};
use opendal::blocking;
use opendal::options::ListOptions;

use crate::hashing::Sha256;

const LOCKS: &str = "locks/";
const SHARED: &str = "shared-";
const EXCLUSIVE: &str = "exclusive-";

/// A live run rewrites its lock this often...
const REFRESH: Duration = Duration::from_secs(5 * 60);
/// ...so one older than this belongs to a run that died.
const STALE: Duration = Duration::from_secs(30 * 60);

/// How long to wait between tries while another holds the store.
const RETRY: Duration = Duration::from_millis(500);

/// A lock held on an S3 store; dropping it stops its refreshing and
/// removes it.
pub struct S3Lock {
    op: blocking::Operator,
    key: String,
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl S3Lock {
    /// Takes the lock, trying for at most `wait`. `store` names the store
    /// in messages.
    pub fn acquire(
        op: &blocking::Operator,
        exclusive: bool,
        wait: Duration,
        store: &str,
    ) -> Result<S3Lock> {
        let deadline = Instant::now() + wait;
        let kind = if exclusive { EXCLUSIVE } else { SHARED };
        let body = serde_json::json!({
            "host": hostname(),
            "pid": std::process::id(),
            "created": jiff::Timestamp::now().to_string(),
        })
        .to_string();
        loop {
            let key = format!(
                "{LOCKS}{kind}{}-{:016x}",
                jiff::Timestamp::now().as_second(),
                unique_u64()
            );
            op.write(&key, body.clone())
                .map_err(|e| anyhow!("{store}: writing the lock {key}: {}", e.kind()))?;
            let lock = S3Lock {
                op: op.clone(),
                key,
                stop: None,
                refresher: None,
            };
            match lock.held_by_another(exclusive) {
                Ok(None) => return Ok(lock.refreshed(body)),
                Ok(Some(other)) if Instant::now() >= deadline => {
                    drop(lock);
                    let what = if exclusive {
                        "another ingest is writing to the store, and orphans can only be told apart from its objects once it ends"
                    } else {
                        "an ingest gc is removing objects from it"
                    };
                    return Err(crate::store::Busy(format!(
                        "{store}: gave up after {:.1} s waiting for the lock {other} (--wait-lock): {what}",
                        wait.as_secs_f64()
                    ))
                    .into());
                }
                Ok(Some(_)) => {
                    drop(lock);
                    std::thread::sleep(RETRY.min(deadline - Instant::now()));
                }
                Err(e) => return Err(anyhow!("{store}: listing the locks: {}", e.kind())),
            }
        }
    }

    /// A live lock that keeps this one from being held, if any: any other
    /// for an exclusive lock, another exclusive one for a shared lock.
    fn held_by_another(&self, exclusive: bool) -> opendal::Result<Option<String>> {
        let listed = self.op.list_options(LOCKS, ListOptions::default())?;
        let modified = |e: &opendal::Entry| e.metadata().last_modified().map(SystemTime::from);
        let ours = listed
            .iter()
            .find(|e| e.path() == self.key)
            .and_then(modified);
        let live = |e: &opendal::Entry| match (ours, modified(e)) {
            (Some(now), Some(then)) => now.duration_since(then).map_or(true, |age| age < STALE),
            // No date to judge by: live, to be safe.
            _ => true,
        };
        Ok(listed
            .iter()
            .filter(|e| e.path() != self.key && !e.path().ends_with('/'))
            .filter(|e| {
                let name = e.path().trim_start_matches(LOCKS);
                exclusive || name.starts_with(EXCLUSIVE)
            })
            .find(|e| live(e))
            .map(|e| e.path().to_owned()))
    }

    /// Starts rewriting the lock every [`REFRESH`] while it is held.
    fn refreshed(mut self, body: String) -> S3Lock {
        let (stop, stopped) = mpsc::channel::<()>();
        let op = self.op.clone();
        let key = self.key.clone();
        let refresher = std::thread::Builder::new()
            .name("s3-lock".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(REFRESH) {
                    // A failed rewrite is tried again next time; a lock
                    // left unrefreshed for long is the price of a
                    // server that does not answer.
                    let _ = op.write(&key, body.clone());
                }
            });
        if let Ok(refresher) = refresher {
            self.stop = Some(stop);
            self.refresher = Some(refresher);
        }
        self
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(refresher) = self.refresher.take() {
            let _ = refresher.join();
        }
        let _ = self.op.delete(&self.key);
    }
}

/// This machine's name, for a person reading a lock.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// A number no other run picks: the process, the time, a counter.
pub fn unique_u64() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(std::process::id().to_le_bytes());
    h.update(jiff::Timestamp::now().as_nanosecond().to_le_bytes());
    h.update(
        COUNTER
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_le_bytes(),
    );
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}
