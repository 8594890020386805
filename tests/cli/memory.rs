//! Memory is flat: a 1 GiB input costs what a small one costs. Peak RSS is
//! the kernel's count for the child, read by GNU time (`/usr/bin/time`), not
//! assumed. (wait4 from the test itself would count the test's own memory:
//! the spawned child starts as a copy of it.)

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::Stdio;

use crate::harness::timing::*;
use crate::util::*;

const GIB: usize = 1 << 30;

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
