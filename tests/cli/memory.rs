//! Memory is flat: a 1 GiB input costs what a small one costs. Peak RSS is
//! the kernel's count for the child, read by GNU time (`/usr/bin/time`), not
//! assumed. (wait4 from the test itself would count the test's own memory:
//! the spawned child starts as a copy of it.)

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::util::*;

const GIB: usize = 1 << 30;
const LIMIT_KIB: i64 = 16 * 1024;

/// Runs `ingest ARGS` under GNU time; returns the command to spawn and the
/// file time writes the peak RSS (KiB) into.
pub fn under_time(env: &Env, args: &[&str]) -> (Command, std::path::PathBuf) {
    let report = env.path().join("peak-rss");
    (timed(&env.cmd(args), &report), report)
}

/// `inner` (program, arguments, environment and folder) run under GNU
/// time, which writes its peak RSS in KiB into `report`.
pub fn timed(inner: &Command, report: &std::path::Path) -> Command {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(report)
        .arg(inner.get_program())
        .args(inner.get_args());
    if let Some(dir) = inner.get_current_dir() {
        cmd.current_dir(dir);
    }
    for (key, value) in inner.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

/// Spawns `cmd` with its stdin on a pipe and its stdout discarded.
pub fn spawn_fed(cmd: &mut Command) -> (Child, ChildStdin) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// Waits for `child` and returns its exit code and the peak RSS in KiB.
pub fn wait_with_peak_rss(mut child: Child, report: &std::path::Path) -> (Option<i32>, i64) {
    let status = child.wait().unwrap();
    let text =
        std::fs::read_to_string(report).expect("GNU time must be installed (.ci/run installs it)");
    let peak = text.lines().last().unwrap().trim().parse().unwrap();
    (status.code(), peak)
}

/// Writes `len` bytes (a repeated 1 MiB block of noise seeded by `seed`).
fn fill(out: &mut impl Write, len: usize, seed: u64) {
    let block = noise(1 << 20, seed);
    for _ in 0..len / block.len() {
        out.write_all(&block).unwrap();
    }
}

#[test]
fn a_1gib_stdin_stream_stays_under_16mib_rss() {
    let env = Env::new();
    let (mut cmd, report) = under_time(&env, &["-q", "--name", "big.bin", "-"]);
    let (child, mut stdin) = spawn_fed(&mut cmd);
    fill(&mut stdin, GIB, 1);
    drop(stdin);
    let (code, peak) = wait_with_peak_rss(child, &report);
    assert_eq!(code, Some(0));
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB for a 1 GiB stream");
    let line = &env.manifest()[0];
    assert_eq!(line["size"], GIB as u64);
    eprintln!("1 GiB through stdin: peak RSS {peak} KiB");
}

#[test]
fn a_1gib_file_stays_under_16mib_rss() {
    let env = Env::new();
    let path = env.path().join("big.bin");
    let mut file = BufWriter::new(File::create(&path).unwrap());
    fill(&mut file, GIB, 2);
    file.into_inner().unwrap().sync_all().unwrap();
    let (mut cmd, report) = under_time(&env, &["-q", "big.bin"]);
    let child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let (code, peak) = wait_with_peak_rss(child, &report);
    assert_eq!(code, Some(0));
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB for a 1 GiB file");
    let hex = env.manifest()[0]["sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha256_file(&env.object(&hex)), hex);
    eprintln!("1 GiB file: peak RSS {peak} KiB");
}

#[test]
fn verify_of_a_2gib_object_stays_under_16mib_rss() {
    let env = Env::new();
    let (mut cmd, _) = under_time(&env, &["-q", "--name", "huge.bin", "-"]);
    let (mut child, mut stdin) = spawn_fed(&mut cmd);
    fill(&mut stdin, 2 * GIB, 3);
    drop(stdin);
    assert!(child.wait().unwrap().success());

    let (mut cmd, report) = under_time(&env, &["verify"]);
    let child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let (code, peak) = wait_with_peak_rss(child, &report);
    assert_eq!(code, Some(0));
    assert!(
        peak < LIMIT_KIB,
        "peak RSS {peak} KiB verifying a 2 GiB object"
    );
    eprintln!("verify of a 2 GiB object: peak RSS {peak} KiB");
}
