//! A real clamd (Debian's clamav-daemon), started per test on a unix socket
//! in a temp folder, with a database holding only a body signature for the
//! EICAR test string.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The EICAR test string, in two halves so this file is not itself a hit.
pub fn eicar() -> Vec<u8> {
    [
        &b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$"[..],
        b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ]
    .concat()
}

/// A clamd of our own, stopped when dropped.
pub struct Clamd {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Clamd {
    pub fn start(stream_max: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("clamd-").tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("db")).unwrap();
        fs::create_dir(root.join("tmp")).unwrap();
        let hex: String = eicar().iter().map(|b| format!("{b:02x}")).collect();
        fs::write(root.join("db/test.ndb"), format!("Test.EICAR:0:*:{hex}\n")).unwrap();
        // No User line: as root, clamd stays root and reads our folders.
        let config = format!(
            "Foreground yes\nLocalSocket {sock}\nFixStaleSocket yes\nDatabaseDirectory {db}\n\
             TemporaryDirectory {tmp}\nStreamMaxLength {stream_max}\nBytecode no\nLogFile {log}\n",
            sock = root.join("clamd.sock").display(),
            db = root.join("db").display(),
            tmp = root.join("tmp").display(),
            log = root.join("clamd.log").display(),
        );
        fs::write(root.join("clamd.conf"), config).unwrap();
        let child = Command::new(clamd_binary())
            .arg("-c")
            .arg(root.join("clamd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clamd must be installed (.ci/setup installs clamav-daemon)");
        let clamd = Clamd {
            dir,
            child: Some(child),
        };
        // The socket appears once the database is loaded: then it is ready.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !clamd.socket().exists() {
            assert!(
                Instant::now() < deadline,
                "clamd did not start: {}",
                clamd.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        clamd
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("clamd.sock")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("clamd.log")).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: SIGTERM to our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn clamd_binary() -> &'static str {
    if Path::new("/usr/sbin/clamd").exists() {
        "/usr/sbin/clamd"
    } else {
        "clamd"
    }
}
