//! What the tests share: the servers they start (`ingest serve`, clamd, the
//! S3 engines), timing children, phone backups to feed `ingest mms`, small
//! disks, and waiting for a condition.

pub mod clamd;
pub mod mms_xml;
pub mod s3;
pub mod served;
pub mod timing;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Waits until `check` holds, or fails after `limit` saying `what`. It
/// polls without sleeping for the first 200 ms (a moment some tests must
/// catch, such as a run's temp file, lasts less than a sleep), then every
/// 10 ms.
pub fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        let waited = started.elapsed();
        assert!(waited < limit, "timed out waiting: {what}");
        match waited < Duration::from_millis(200) {
            true => std::thread::yield_now(),
            false => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Mounts a tmpfs of `size` at `dir`, unmounted when the guard drops. A
/// test that needs one fails, loudly, where mounting is not allowed: it
/// must never pass without testing anything.
pub fn tmpfs(dir: &Path, size: &str) -> Unmount {
    fs::create_dir_all(dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        mounted,
        "cannot mount a tmpfs at {}: this test fills a small disk, and needs root (as CI runs)",
        dir.display()
    );
    Unmount(dir.to_path_buf())
}

pub struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Waits until the reader has taken every byte written to the pipe.
pub fn wait_until_drained(pipe: &impl std::os::fd::AsRawFd) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int through the pointer we pass.
        let rc = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut queued) };
        assert_eq!(rc, 0, "FIONREAD failed");
        if queued == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "reader stopped reading"
        );
        std::thread::yield_now();
    }
}
