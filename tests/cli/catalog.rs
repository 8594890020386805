//! The catalog (the manifest's identities indexed in `cache/`): whatever
//! happens to it, deleted, damaged, left behind by the manifest, or killed
//! mid-update, a run records each file exactly once, as a full read of the
//! manifest would decide.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::*;

const CATALOG: &str = "cache/catalog-v1.sqlite";

/// `count` small files under `dir`, each different, aged past the files
/// cache's racy window.
fn tree(env: &Env, dir: &str, count: usize, seed: u64) -> Vec<PathBuf> {
    let files = (0..count)
        .map(|i| {
            env.write(
                format!("{dir}/f{i:03}.bin"),
                &noise(300 + i, 2 * (seed * 1000 + i as u64)),
            )
        })
        .collect();
    age_files();
    files
}

/// Every file has exactly one manifest line for its (name, source, bytes),
/// and no line is there twice: what reading the whole manifest decides.
fn assert_recorded_once(env: &Env, files: &[PathBuf], context: &str) {
    let mut lines: HashMap<(String, String), usize> = HashMap::new();
    for line in env.manifest() {
        let key = (
            line["sha256"].as_str().unwrap().to_owned(),
            line["source"].as_str().unwrap().to_owned(),
        );
        *lines.entry(key).or_default() += 1;
    }
    for (key, count) in &lines {
        assert_eq!(*count, 1, "{context}: {key:?} is recorded {count} times");
    }
    for file in files {
        let key = (
            sha256_file(file),
            file.canonicalize().unwrap().display().to_string(),
        );
        assert!(lines.contains_key(&key), "{context}: {file:?} has no line");
    }
}

/// `--no-cache` makes every file's identity a question for the catalog.
fn rerun(env: &Env) {
    ok(env.cmd(["-q", "--no-cache", "in"]));
}

#[test]
fn a_deleted_or_damaged_catalog_is_made_again() {
    let env = Env::new();
    let files = tree(&env, "in", 20, 1);
    ok(env.cmd(["-q", "in"]));
    assert!(env.store().join(CATALOG).is_file(), "no catalog was made");
    for file in fs::read_dir(env.store().join("cache")).unwrap() {
        let path = file.unwrap().path();
        if path.to_string_lossy().contains("catalog") {
            fs::remove_file(path).unwrap();
        }
    }
    rerun(&env);
    assert_recorded_once(&env, &files, "deleted");
    fs::write(env.store().join(CATALOG), b"not a database at all").unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = fs::remove_file(env.store().join(format!("{CATALOG}{suffix}")));
    }
    let out = ok(env.cmd(["-q", "--no-cache", "in"]));
    assert_says(&stderr_of(&out), "making it again from the manifest");
    assert_recorded_once(&env, &files, "damaged");
}

#[test]
fn a_catalog_left_behind_catches_up_by_what_was_appended() {
    let env = Env::new();
    let mut files = tree(&env, "in", 10, 2);
    ok(env.cmd(["-q", "in"]));
    // Another run appends while this catalog is elsewhere: it comes back
    // behind the manifest.
    let kept = env.path().join("kept-cache");
    fs::rename(env.store().join("cache"), &kept).unwrap();
    files.extend(tree(&env, "in/more", 10, 3));
    ok(env.cmd(["-q", "in"]));
    fs::remove_dir_all(env.store().join("cache")).unwrap();
    fs::rename(&kept, env.store().join("cache")).unwrap();
    rerun(&env);
    assert_recorded_once(&env, &files, "behind");
}

#[test]
fn a_manifest_cut_or_replaced_behind_the_catalog_is_read_again() {
    let env = Env::new();
    let files = tree(&env, "in", 12, 4);
    ok(env.cmd(["-q", "in"]));
    let manifest = env.store().join("manifest.jsonl");
    let whole = fs::read(&manifest).unwrap();
    let lines: Vec<&[u8]> = whole.split_inclusive(|&b| b == b'\n').collect();
    // Cut to its first half: the catalog knows lines that are gone.
    fs::write(&manifest, lines[..6].concat()).unwrap();
    rerun(&env);
    assert_recorded_once(&env, &files, "cut");
    // Torn: the last line loses its end.
    let now = fs::read(&manifest).unwrap();
    fs::write(&manifest, &now[..now.len() - 15]).unwrap();
    rerun(&env);
    assert_recorded_once(&env, &files, "torn");
    // Replaced: as long as before, the same lines in another order, so
    // the bytes before the catalog's offset are not the ones it read.
    let now = fs::read(&manifest).unwrap();
    let mut reordered: Vec<&[u8]> = now.split_inclusive(|&b| b == b'\n').collect();
    reordered.reverse();
    fs::write(&manifest, reordered.concat()).unwrap();
    // And then cut, so the run has something to record again.
    let reordered = fs::read(&manifest).unwrap();
    let first_line = reordered.iter().position(|&b| b == b'\n').unwrap() + 1;
    fs::write(&manifest, &reordered[first_line..]).unwrap();
    rerun(&env);
    assert_recorded_once(&env, &files, "replaced");
    env.assert_store_valid();
}

#[test]
fn two_writers_at_once_record_each_file_once() {
    let env = Env::new();
    let files = tree(&env, "in", 40, 5);
    let runs: Vec<_> = (0..2)
        .map(|_| env.cmd(["-q", "--no-cache", "in"]).spawn().unwrap())
        .collect();
    for mut run in runs {
        assert!(run.wait().unwrap().success());
    }
    assert_recorded_once(&env, &files, "two writers");
}

/// A rebuild (catalog deleted, a manifest of thousands of lines) and the
/// updates after it, killed at random moments; each next run records what
/// a full read of the manifest says is missing, and nothing twice.
#[test]
fn a_catalog_killed_at_random_moments_still_answers_right() {
    let seed = test_seed();
    println!("seed {seed} (INGEST_TEST_SEED={seed} replays it)");
    let mut rng = Moments(seed);
    let env = Env::new();
    let mut files = tree(&env, "in", 30, 6);
    ok(env.cmd(["-q", "in"]));
    // Thousands of older lines in front, so a rebuild takes a while.
    let manifest = env.store().join("manifest.jsonl");
    let own = fs::read(&manifest).unwrap();
    let template = String::from_utf8(own.split(|&b| b == b'\n').next().unwrap().to_vec()).unwrap();
    let mut older = String::new();
    for i in 0..40_000 {
        older.push_str(&template.replace("f000.bin", &format!("older{i}.bin")));
        older.push('\n');
    }
    fs::write(&manifest, [older.as_bytes(), &own].concat()).unwrap();
    let catalog = env.store().join(CATALOG);
    // How long a run takes that rebuilds the catalog, and one that only
    // updates it: each kill is drawn within its own run's time.
    let timed = || {
        let started = Instant::now();
        rerun(&env);
        (started.elapsed().as_millis() as u64).max(20)
    };
    remove_catalog(&catalog);
    let rebuild = timed();
    let update = timed();
    let mut landed = 0;
    for round in 0..12 {
        let context = format!("seed {seed} round {round}");
        let span = match rng.next_below(2) {
            0 => {
                remove_catalog(&catalog);
                rebuild
            }
            _ => update,
        };
        files.extend(tree(&env, &format!("in/r{round}"), 3, 100 + round));
        let mut run = env.cmd(["-q", "--no-cache", "in"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.next_below(span)));
        if run.try_wait().unwrap().is_none() {
            landed += 1;
        }
        let _ = run.kill();
        let _ = run.wait();
        rerun(&env);
        assert_recorded_once(&env, &files, &context);
    }
    println!("{landed} of 12 kills landed mid-run");
    assert!(
        landed * 4 >= 12,
        "seed {seed}: only {landed} of 12 kills landed mid-run"
    );
    // Killed runs leave temp files, which gc takes.
    ok(env.cmd(["-q", "gc", "--older-than", "0s"]));
    env.assert_store_valid();
}

fn remove_catalog(catalog: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = catalog.as_os_str().to_owned();
        path.push(suffix);
        let _ = fs::remove_file(PathBuf::from(path));
    }
}
