//! Memory is flat: a 1 GiB input costs what a small one costs. Peak RSS is
//! the kernel's count for the child, read by GNU time (`/usr/bin/time`), not
//! assumed. (wait4 from the test itself would count the test's own memory:
//! the spawned child starts as a copy of it.)

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::util::*;

const GIB: usize = 1 << 30;

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

/// How much more than for a small input a large one may cost. Memory must
/// not grow with the input; the bound is against the same command on a
/// small input, since the binary's own pages (a debug build's above all)
/// are most of either, and a fixed number would measure the build.
const GROWTH_KIB: i64 = 8 * 1024;

/// Peak RSS of `ingest -q --name NAME -` fed `len` bytes (whole MiB).
fn stdin_peak(env: &Env, name: &str, len: usize, seed: u64) -> i64 {
    let (mut cmd, report) = under_time(env, &["-q", "--name", name, "-"]);
    let (child, mut stdin) = spawn_fed(&mut cmd);
    fill(&mut stdin, len, seed);
    drop(stdin);
    let (code, peak) = wait_with_peak_rss(child, &report);
    assert_eq!(code, Some(0));
    peak
}

/// Peak RSS of `ingest ARGS` run to success.
fn peak_of(env: &Env, args: &[&str]) -> i64 {
    let (mut cmd, report) = under_time(env, args);
    let child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let (code, peak) = wait_with_peak_rss(child, &report);
    assert_eq!(code, Some(0));
    peak
}

#[test]
fn a_1gib_stdin_stream_costs_the_memory_of_a_1mib_one() {
    let env = Env::new();
    let small = stdin_peak(&env, "small.bin", 1 << 20, 1);
    let big = stdin_peak(&env, "big.bin", GIB, 1);
    assert!(
        big < small + GROWTH_KIB,
        "peak RSS {big} KiB for a 1 GiB stream, {small} KiB for 1 MiB"
    );
    assert_eq!(env.manifest()[1]["size"], GIB as u64);
    eprintln!("1 GiB through stdin: peak RSS {big} KiB (1 MiB: {small} KiB)");
}

#[test]
fn a_1gib_file_costs_the_memory_of_a_1mib_one() {
    let env = Env::new();
    for (name, len) in [("small.bin", 1 << 20), ("big.bin", GIB)] {
        let mut file = BufWriter::new(File::create(env.path().join(name)).unwrap());
        fill(&mut file, len, 2);
        file.into_inner().unwrap().sync_all().unwrap();
    }
    let small = peak_of(&env, &["-q", "small.bin"]);
    let big = peak_of(&env, &["-q", "big.bin"]);
    assert!(
        big < small + GROWTH_KIB,
        "peak RSS {big} KiB for a 1 GiB file, {small} KiB for 1 MiB"
    );
    let hex = env.manifest()[1]["sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha256_file(&env.object(&hex)), hex);
    eprintln!("1 GiB file: peak RSS {big} KiB (1 MiB: {small} KiB)");
}

#[test]
fn verify_of_a_2gib_object_costs_the_memory_of_a_1mib_one() {
    let small_store = Env::new();
    stdin_peak(&small_store, "small.bin", 1 << 20, 3);
    let small = peak_of(&small_store, &["verify"]);
    let env = Env::new();
    stdin_peak(&env, "huge.bin", 2 * GIB, 3);
    let big = peak_of(&env, &["verify"]);
    assert!(
        big < small + GROWTH_KIB,
        "peak RSS {big} KiB verifying a 2 GiB object, {small} KiB for 1 MiB"
    );
    eprintln!("verify of a 2 GiB object: peak RSS {big} KiB (1 MiB: {small} KiB)");
}
