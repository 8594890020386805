//! Crash consistency: ingest killed at many seeded moments (SIGKILL), or
//! interrupted (SIGINT, SIGTERM), never leaves a store that breaks its
//! promise, and re-running completes the work.
//!
//! `CRASH_ROUNDS=2000 cargo test --release crash` runs the long mode; CI
//! runs 200 kill points.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

fn rounds(default: usize) -> usize {
    std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A mix of inputs: many small files and two of several MiB.
fn inputs(env: &Env) -> usize {
    for i in 0..60 {
        env.write(
            format!("in/small/{i:02}.bin"),
            &noise(2000 + i * 97, i as u64 + 1),
        );
    }
    env.write("in/big/a.bin", &noise(6 << 20, 101));
    env.write("in/big/b.bin", &noise(5 << 20, 102));
    62
}

/// The promise after any interruption: every complete manifest line parses
/// (only the last may be torn) and names an object that exists and hashes
/// to its name, and every file in objects/ hashes to its name.
fn assert_promise_holds(env: &Env, context: &str) {
    let text = fs::read(env.store().join("manifest.jsonl")).unwrap_or_default();
    let complete = match text.iter().rposition(|&b| b == b'\n') {
        Some(end) => &text[..=end],
        None => &text[..0],
    };
    let mut verified: HashMap<String, bool> = HashMap::new();
    for line in complete.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value =
            serde_json::from_slice(line).unwrap_or_else(|e| panic!("{context}: bad line ({e})"));
        let hex = v["sha256"].as_str().unwrap().to_owned();
        let ok = *verified
            .entry(hex.clone())
            .or_insert_with(|| env.object(&hex).is_file() && sha256_file(&env.object(&hex)) == hex);
        assert!(
            ok,
            "{context}: manifest names {hex}, which is missing or wrong"
        );
    }
    for object in env.objects() {
        let name = object.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(
            sha256_file(&object),
            name,
            "{context}: partial or corrupt object"
        );
    }
}

/// After a complete run: each input recorded exactly once.
fn assert_each_input_once(env: &Env, expected: usize) {
    let mut triples = HashSet::new();
    for line in env.manifest() {
        let triple = (
            line["sha256"].to_string(),
            line["name"].to_string(),
            line["source"].to_string(),
        );
        assert!(triples.insert(triple.clone()), "recorded twice: {triple:?}");
    }
    assert_eq!(triples.len(), expected);
}

/// How long a whole run takes: the shortest of three, so that a moment
/// drawn below it usually falls mid-run even on a loaded machine.
fn run_duration(env: &Env) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            ok(env.cmd(["-q", "--no-cache", "in"]));
            let took = start.elapsed();
            fs::remove_dir_all(env.store()).unwrap();
            took
        })
        .min()
        .unwrap_or_default()
}

fn interrupt_at_moments(signal: libc::c_int, count: usize, seed: u64) {
    let env = Env::new();
    let total = inputs(&env);
    let span = run_duration(&env);
    let mut moments = Moments(seed);
    let mut killed_mid_run = 0;
    for round in 0..count {
        let sync = ["group", "file", "batch"][round % 3];
        let mut child = env
            .cmd(["-q", "--no-cache", "--sync", sync, "in"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Within the first three quarters of a run: late moments often miss a
        // run that a loaded machine finished early.
        let wait = Duration::from_micros(moments.next_below(span.as_micros() as u64 * 3 / 4));
        std::thread::sleep(wait); // choosing the moment, not synchronising
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed_mid_run += 1;
        }
        let context = format!("signal {signal}, round {round}, after {wait:?}");
        assert_promise_holds(&env, &context);
        if signal != libc::SIGKILL {
            assert!(
                env.tmp_entries().is_empty(),
                "{context}: left {:?}",
                env.tmp_entries()
            );
        }
        if round % 5 == 4 || round + 1 == count {
            ok(env.cmd(["-q", "--no-cache", "in"]));
            assert_each_input_once(&env, total);
            assert_promise_holds(&env, &context);
        }
        // Each moment is taken from an empty store, so it falls within the
        // work a whole run does.
        let _ = fs::remove_dir_all(env.store());
    }
    // Enough moments must land mid-run, or the test proves little.
    assert!(
        killed_mid_run * 4 > count,
        "only {killed_mid_run} of {count} signals landed mid-run"
    );
}

#[test]
fn sigkill_at_200_moments_keeps_the_promise_and_a_rerun_completes() {
    interrupt_at_moments(libc::SIGKILL, rounds(200), 0x5eed_0001);
}

#[test]
fn sigint_at_many_moments_also_removes_the_temp_files() {
    interrupt_at_moments(libc::SIGINT, rounds(200) / 5, 0x5eed_0002);
}

#[test]
fn sigterm_at_many_moments_also_removes_the_temp_files() {
    interrupt_at_moments(libc::SIGTERM, rounds(200) / 5, 0x5eed_0003);
}

/// Killed at exact syscalls of the default mode's group flush. strace
/// injects the SIGKILL as the call begins, counting calls per thread: the
/// k-th sync of the threads that sync a batch's files (then its folders,
/// on threads of their own), and the n-th rename that publishes an object
/// (made one after another, between the files' syncs and the folders').
/// Each time the promise holds, and a re-run records every input once.
#[test]
fn sigkill_at_exact_syscalls_of_the_group_flush_keeps_the_promise() {
    let env = Env::new();
    let total = inputs(&env);
    let syncs = "fsync,fdatasync";
    let renames = "rename,renameat,renameat2,link,linkat";
    let points = [
        (syncs, 1),
        (syncs, 2),
        (syncs, 3),
        (renames, 1),
        (renames, 2),
        (renames, total / 2),
        (renames, total - 1),
        (renames, total),
    ];
    let mut killed = 0;
    for (calls, nth) in points {
        let context = format!("killed at call {nth} of {calls}");
        let out = Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e"])
            .arg(format!("inject={calls}:signal=KILL:when={nth}"))
            .arg(bin())
            .args(["--store"])
            .arg(env.store())
            .args(["-q", "--no-cache", "--progress", "never"])
            .arg(env.path().join("in"))
            .output()
            .expect("strace must be installed (.ci/setup installs it)");
        if out.status.code().is_none() || !out.status.success() {
            killed += 1;
        }
        assert_promise_holds(&env, &context);
        ok(env.cmd(["-q", "--no-cache", "in"]));
        assert_promise_holds(&env, &context);
        assert_each_input_once(&env, total);
        fs::remove_dir_all(env.store()).unwrap();
    }
    assert_eq!(killed, points.len(), "a run was not killed where asked");
}
