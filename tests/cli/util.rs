//! The test harness: a temp store per test, the real binary, and helpers
//! that read the store the way a user would look at it.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// The binary under test: this build's, or the one `INGEST_TEST_BIN` names
/// (to show that a test fails on an older build).
pub fn bin() -> std::ffi::OsString {
    std::env::var_os("INGEST_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_ingest").into())
}

/// A scratch folder with a store inside it (not created until a run writes).
pub struct Env {
    dir: TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::Builder::new()
                .prefix("ingest-test-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `ingest --store STORE --progress never ARGS...`, with the user's
    /// environment kept out.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = bare_cmd();
        cmd.current_dir(self.path())
            .arg("--store")
            .arg(self.store())
            .arg("--progress")
            .arg("never");
        cmd.args(args);
        cmd
    }

    /// Writes a file in the scratch folder and returns its path.
    pub fn write(&self, name: impl AsRef<Path>, bytes: &[u8]) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, bytes).unwrap();
        path
    }

    /// The manifest's lines, parsed; panics on a line that does not parse.
    pub fn manifest(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.store().join("manifest.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The files cache's records (in the catalog) that parse.
    pub fn cache_records(&self) -> Vec<Value> {
        let path = self.store().join("cache/catalog-v1.sqlite");
        if !path.exists() {
            return Vec::new();
        }
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut query = conn.prepare("SELECT record FROM files").unwrap();
        query
            .query_map([], |row| row.get::<_, Vec<u8>>(0))
            .unwrap()
            .filter_map(|record| serde_json::from_slice(&record.unwrap()).ok())
            .collect()
    }

    /// Replaces the files cache's record of every path ending in `suffix`
    /// with `record` (what a damaged or forged record looks like).
    pub fn set_cache_record(&self, suffix: &str, record: &[u8]) {
        let conn =
            rusqlite::Connection::open(self.store().join("cache/catalog-v1.sqlite")).unwrap();
        let mut pattern = b"%".to_vec();
        pattern.extend_from_slice(suffix.as_bytes());
        let changed = conn
            .execute(
                "UPDATE files SET record = ?1 WHERE CAST(path AS TEXT) LIKE CAST(?2 AS TEXT)",
                rusqlite::params![record, pattern],
            )
            .unwrap();
        assert!(changed > 0, "no cache record ends in {suffix}");
    }

    pub fn manifest_bytes(&self) -> Vec<u8> {
        fs::read(self.store().join("manifest.jsonl")).unwrap_or_default()
    }

    pub fn object(&self, hex: &str) -> PathBuf {
        self.store().join("objects").join(&hex[..2]).join(hex)
    }

    /// Every file under `objects/`.
    pub fn objects(&self) -> Vec<PathBuf> {
        files_under(&self.store().join("objects"))
    }

    /// Every entry left in `tmp/`.
    pub fn tmp_entries(&self) -> Vec<PathBuf> {
        match fs::read_dir(self.store().join("tmp")) {
            Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Checks what every run must leave behind: each object hashes to its
    /// name and is read-only, each manifest line names an object of the
    /// recorded size, and `tmp/` is empty.
    pub fn assert_store_valid(&self) {
        for object in self.objects() {
            let name = object.file_name().unwrap().to_str().unwrap().to_owned();
            assert_eq!(
                sha256_file(&object),
                name,
                "{} is corrupt",
                object.display()
            );
            let mode = fs::metadata(&object).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o444, "{} is writable", object.display());
        }
        for line in self.manifest() {
            let hex = line["sha256"].as_str().unwrap();
            let meta = fs::metadata(self.object(hex)).expect("manifest names a missing object");
            assert_eq!(meta.len(), line["size"].as_u64().unwrap());
        }
        assert!(
            self.tmp_entries().is_empty(),
            "tmp/ holds {:?}",
            self.tmp_entries()
        );
    }
}

/// The binary with a clean environment: no INGEST_* or XDG_* variables.
pub fn bare_cmd() -> Command {
    let mut cmd = Command::new(bin());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("INGEST_") || key.starts_with("XDG_") {
            cmd.env_remove(&*key);
        }
    }
    cmd
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut file = fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex(&hasher.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Stdout of a finished run, as text.
pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `--json` lines of the inputs, parsed (the closing summary left out).
pub fn json_lines(output: &std::process::Output) -> Vec<Value> {
    all_json(output)
        .into_iter()
        .filter(|v| v.get("summary").is_none())
        .collect()
}

/// The closing `{"summary": ...}` object of a `--json` run; it must be last.
pub fn json_summary(output: &std::process::Output) -> Value {
    let last = all_json(output).pop().expect("no JSON output");
    last.get("summary")
        .cloned()
        .expect("last line is not the summary")
}

fn all_json(output: &std::process::Output) -> Vec<Value> {
    stdout_of(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs the command, asserts it succeeded, and returns its output.
pub fn ok(mut cmd: impl std::borrow::BorrowMut<Command>) -> std::process::Output {
    let out = cmd.borrow_mut().output().unwrap();
    assert!(
        out.status.success(),
        "run failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout_of(&out),
        stderr_of(&out)
    );
    out
}

/// Runs the command with `input` on a pipe to its stdin.
pub fn with_stdin(cmd: Command, input: impl Into<Vec<u8>>) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::from_std(cmd);
    cmd.write_stdin(input.into());
    cmd
}

/// Everything a rejection must leave as it was: the objects, `tmp/` and the
/// manifest, byte for byte.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    objects: Vec<(PathBuf, Vec<u8>)>,
    tmp: Vec<PathBuf>,
    manifest: Vec<u8>,
}

impl Env {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            objects: self
                .objects()
                .into_iter()
                .map(|p| (p.clone(), fs::read(&p).unwrap()))
                .collect(),
            tmp: self.tmp_entries(),
            manifest: self.manifest_bytes(),
        }
    }

    /// Runs `ingest ARGS` in a bash that then reports, from its own
    /// /proc/PID/io, how many bytes its children read with read(2).
    pub fn bytes_read_by(&self, args: &[&str]) -> (std::process::Output, u64) {
        let inner = self.cmd(args);
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(r#""$@" >/dev/null; code=$?; awk '/^rchar/ {print $2}' /proc/$$/io; exit $code"#)
            .arg("_")
            .arg(inner.get_program())
            .args(inner.get_args())
            .current_dir(self.path());
        let out = cmd.output().unwrap();
        let rchar = stdout_of(&out).trim().parse().unwrap();
        (out, rchar)
    }
}

impl Env {
    /// A store holding one object, so that "unchanged" means something.
    pub fn seeded() -> Self {
        let env = Env::new();
        env.write("seed.txt", b"seed\n");
        ok(env.cmd(["seed.txt"]));
        env
    }

    /// Waits until a run has started writing a temp file: it is reading.
    pub fn wait_for_temp_file(&self) {
        crate::harness::eventually(
            std::time::Duration::from_secs(60),
            "ingest starting to read",
            || !self.tmp_entries().is_empty(),
        );
    }
}

/// Runs the binary as uid/gid 65534 on the env's store: as root, mode bits
/// would not stop it, and a permission test would prove nothing.
pub fn as_nobody(env: &Env, args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin())
        .args(["--progress", "never", "--store"])
        .arg(env.store())
        .args(args)
        .current_dir(env.path())
        .env_remove("INGEST_STORE")
        .output()
        .unwrap()
}

impl Env {
    /// Runs `sha256sum -c` in the scratch folder on `sums` (lines as ingest
    /// or export printed them).
    pub fn sha256sum_check(&self, sums: &[u8]) -> std::process::Output {
        let file = self.write("SUMS", sums);
        Command::new("sha256sum")
            .arg("-c")
            .arg(file)
            .current_dir(self.path())
            .output()
            .unwrap()
    }
}

/// Freezes a running child, does `act` while it cannot move, and lets it go
/// on: a deterministic "meanwhile" for tests of changes mid-run.
pub fn while_stopped(child: &std::process::Child, act: impl FnOnce()) {
    let pid = child.id() as i32;
    // SAFETY: signals to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    act();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Deterministic moments and choices: a seeded xorshift.
pub struct Moments(pub u64);

impl Moments {
    pub fn next_below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// The seed for a randomized test: `INGEST_TEST_SEED` to replay a failure,
/// else one drawn from the clock. The test names it when it fails.
pub fn test_seed() -> u64 {
    std::env::var("INGEST_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        })
}

/// Asserts that `text` contains `wanted`, showing the whole text when not.
#[track_caller]
pub fn assert_says(text: &str, wanted: &str) {
    assert!(text.contains(wanted), "expected {wanted:?} in:\n{text}");
}

/// Files just written are not trusted to the files cache (their times may
/// not yet show a change that follows within the same clock tick, and a
/// ctime cannot be set back): age them by waiting out that margin.
pub fn age_files() {
    std::thread::sleep(std::time::Duration::from_millis(2100));
}

/// Three files under `in/`, two of them the same bytes (`keep.txt` and
/// `second`), and `alone.bin`; stored, their dates a while ago.
pub fn stocked_with(second: &str) -> Env {
    let env = Env::new();
    env.write("in/keep.txt", b"shared bytes\n");
    env.write(format!("in/{second}"), b"shared bytes\n");
    env.write("in/alone.bin", &noise(5000, 3));
    age_files();
    ok(env.cmd(["-q", "in"]));
    env
}

/// The names of the manifest's entries, sorted.
pub fn entry_names(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = env
        .manifest()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Asserts that the folders `got` and `want` hold the same tree, byte for
/// byte (`diff -r`), showing the differences when not.
#[track_caller]
pub fn assert_same_tree(got: &Path, want: &Path, context: &str) {
    let out = Command::new("diff")
        .arg("-r")
        .arg(got)
        .arg(want)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{context}: the tree differs:\n{}",
        stdout_of(&out)
    );
}
