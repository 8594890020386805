//! Whole folders, as cron sees them: walks, excludes, symlinks, special and
//! unreadable files, the files cache, dry runs, and concurrent runs.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::*;

/// root/a.txt, root/b/.hidden, root/b/c.txt, root/d/dup.txt (= a.txt),
/// root/junk.tmp, root/skip/x.txt
fn tree(env: &Env) {
    env.write("root/a.txt", b"alpha\n");
    env.write("root/b/.hidden", b"hidden\n");
    env.write("root/b/c.txt", b"gamma\n");
    env.write("root/d/dup.txt", b"alpha\n");
    env.write("root/junk.tmp", b"junk\n");
    env.write("root/skip/x.txt", b"excluded\n");
}

fn field(lines: &[Value], name: &str) -> Vec<String> {
    lines
        .iter()
        .map(|l| l[name].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_nested_tree_is_stored_sorted_with_hidden_files_duplicates_and_excludes() {
    let env = Env::new();
    tree(&env);
    let out = ok(env.cmd(["--json", "--exclude", "*.tmp", "--exclude", "skip", "root"]));
    let lines = json_lines(&out);
    assert_eq!(
        field(&lines, "path"),
        [
            "root/a.txt",
            "root/b/.hidden",
            "root/b/c.txt",
            "root/d/dup.txt"
        ]
    );
    assert_eq!(field(&lines, "status"), ["new", "new", "new", "duplicate"]);
    let summary = json_summary(&out);
    assert_eq!(summary["new"]["count"], 3);
    assert_eq!(summary["duplicate"]["count"], 1);
    assert_eq!(summary["duplicate"]["bytes"], 6);
    assert_eq!(env.manifest().len(), 4);
    let source = env.path().canonicalize().unwrap().join("root/b/c.txt");
    assert_eq!(env.manifest()[2]["source"], source.to_str().unwrap());
    env.assert_store_valid();
}

#[test]
fn excludes_match_paths_relative_to_the_walked_root() {
    let env = Env::new();
    tree(&env);
    env.write("root/b/deep/e.txt", b"e\n");
    let out = ok(env.cmd([
        "--json",
        "--exclude",
        "b/**/*.txt",
        "--exclude",
        "/d",
        "root",
    ]));
    let paths = field(&json_lines(&out), "path");
    assert_eq!(
        paths,
        [
            "root/a.txt",
            "root/b/.hidden",
            "root/junk.tmp",
            "root/skip/x.txt"
        ]
    );
}

#[test]
fn max_depth_limits_the_walk() {
    let env = Env::new();
    tree(&env);
    let out = ok(env.cmd(["--json", "--max-depth", "1", "root"]));
    assert_eq!(
        field(&json_lines(&out), "path"),
        ["root/a.txt", "root/junk.tmp"]
    );
}

#[test]
fn symlinks_in_a_walk_are_skipped_unless_followed_and_loops_are_caught() {
    let env = Env::new();
    env.write("root/a.txt", b"alpha\n");
    symlink("a.txt", env.path().join("root/link.txt")).unwrap();
    symlink(".", env.path().join("root/loop")).unwrap();

    let out = ok(env.cmd(["--json", "root"]));
    assert_eq!(field(&json_lines(&out), "path"), ["root/a.txt"]);
    assert_eq!(json_summary(&out)["skipped"], 2);

    let out = ok(env.cmd(["--json", "-L", "root"]));
    let lines = json_lines(&out);
    assert_eq!(field(&lines, "path"), ["root/a.txt", "root/link.txt"]);
    assert_eq!(field(&lines, "status"), ["unchanged", "duplicate"]);
    assert_eq!(json_summary(&out)["skipped"], 1);
    assert_says(&stderr_of(&out), "root/loop: skipped: symbolic link loop");

    // Named on the command line, a symlink is followed.
    let out = ok(env.cmd(["--json", "root/link.txt"]));
    assert_eq!(json_lines(&out)[0]["sha256"], sha256_hex(b"alpha\n"));
}

#[test]
fn fifos_in_a_walk_are_skipped_with_a_warning() {
    let env = Env::new();
    env.write("root/a.txt", b"alpha\n");
    mkfifo(&env.path().join("root/fifo"));
    let out = ok(env.cmd(["root"]));
    let err = stderr_of(&out);
    assert_says(&err, "warning: root/fifo: skipped: a FIFO");
    assert_says(&err, "1 skipped");
    assert_eq!(env.manifest().len(), 1);

    let quiet = ok(env.cmd(["-q", "root"]));
    assert!(quiet.stderr.is_empty(), "{}", stderr_of(&quiet));
}

#[test]
fn unreadable_files_and_folders_fail_alone_for_an_unprivileged_user() {
    let env = Env::new();
    env.write("root/a.txt", b"alpha\n");
    let secret = env.write("root/b-secret.txt", b"secret\n");
    env.write("root/c-locked/inside.txt", b"inside\n");
    env.write("root/d.txt", b"delta\n");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(
        env.path().join("root/c-locked"),
        fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    fs::set_permissions(env.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(env.store()).unwrap();
    fs::set_permissions(env.store(), fs::Permissions::from_mode(0o777)).unwrap();

    let out = as_nobody(&env, &["--json", "root"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let lines = json_lines(&out);
    let failed: Vec<_> = lines
        .iter()
        .filter(|l| l["status"] == "failed")
        .map(|l| l["path"].clone())
        .collect();
    assert_eq!(failed, ["root/b-secret.txt", "root/c-locked"]);
    let err = stderr_of(&out);
    assert_says(&err, "root/b-secret.txt: Permission denied");
    assert_says(&err, "root/c-locked: Permission denied");
    assert_eq!(json_summary(&out)["new"]["count"], 2);
    env.assert_store_valid();
}

/// The walk has listed the folder; while the first (large) file is read,
/// the process is stopped, a later file deleted, and the process resumed.
#[test]
fn a_file_deleted_mid_walk_fails_alone() {
    let env = Env::new();
    env.write("root/a-big.bin", &vec![7u8; 256 << 20]);
    env.write("root/b-gone.txt", b"soon gone\n");
    env.write("root/c.txt", b"stays\n");
    let mut child = env
        .cmd(["--json", "root"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    env.wait_for_temp_file();
    while_stopped(&child, || {
        fs::remove_file(env.path().join("root/b-gone.txt")).unwrap()
    });
    let stdout = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(field(&lines[..3], "status"), ["new", "failed", "new"]);
    assert!(
        lines[1]["error"].as_str().unwrap().contains("No such file"),
        "{:?}",
        lines[1]
    );
    env.assert_store_valid();
}

/// The paths a run opened, from strace.
fn opened_paths(env: &Env, args: &[&str]) -> (std::process::Output, String) {
    let log = env.path().join("strace.log");
    let inner = env.cmd(args);
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-e", "trace=open,openat", "-o"])
        .arg(&log)
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(env.path());
    let out = cmd
        .output()
        .expect("strace must be installed (.ci/setup installs it)");
    (out, fs::read_to_string(&log).unwrap())
}

#[test]
fn an_unchanged_tree_is_reported_unchanged_without_reading_a_file() {
    let env = Env::new();
    tree(&env);
    age_files();
    ok(env.cmd(["root"]));
    let manifest = env.manifest_bytes();

    let (out, opened) = opened_paths(&env, &["--json", "root"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        json_lines(&out).iter().all(|l| l["status"] == "unchanged"),
        "{}",
        stdout_of(&out)
    );
    assert_eq!(json_lines(&out)[0]["sha256"], sha256_hex(b"alpha\n"));
    for file in ["a.txt", ".hidden", "c.txt", "dup.txt", "junk.tmp", "x.txt"] {
        assert!(
            !opened.contains(&format!("/{file}\"")),
            "{file} was opened:\n{opened}"
        );
    }
    assert_eq!(env.manifest_bytes(), manifest);

    // --no-cache reads them all again, and finds them recorded.
    let (out, opened) = opened_paths(&env, &["--json", "--no-cache", "root"]);
    assert!(json_lines(&out).iter().all(|l| l["status"] == "unchanged"));
    assert_says(&opened, "/c.txt\"");

    // A changed file is read and stored again.
    fs::write(env.path().join("root/b/c.txt"), b"gamma, edited\n").unwrap();
    let out = ok(env.cmd(["--json", "root"]));
    let changed: Vec<_> = json_lines(&out)
        .into_iter()
        .filter(|l| l["status"] != "unchanged")
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["path"], "root/b/c.txt");
    assert_eq!(changed[0]["sha256"], sha256_hex(b"gamma, edited\n"));
}

#[test]
fn a_damaged_or_missing_cache_never_gives_a_wrong_hash() {
    let env = Env::new();
    tree(&env);
    age_files();
    ok(env.cmd(["root"]));
    let has_a_txt = |env: &Env| {
        let records = env.cache_records();
        records
            .iter()
            .any(|r| r["path"].as_str().unwrap().ends_with("a.txt"))
    };
    assert!(has_a_txt(&env));
    // A record that does not parse is no record: the file is read.
    env.set_cache_record("a.txt", b"{not json");
    assert!(!has_a_txt(&env));
    let out = ok(env.cmd(["--json", "root"]));
    let a_txt = |out: &std::process::Output| {
        let lines = json_lines(out);
        lines
            .into_iter()
            .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with("a.txt")))
            .unwrap()
    };
    assert_eq!(a_txt(&out)["sha256"], sha256_hex(b"alpha\n"));
    // Read, so recorded again.
    assert!(has_a_txt(&env));
    // A damaged catalog is made again: every file is read.
    let catalog = env.store().join("cache/catalog-v1.sqlite");
    for suffix in ["-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", catalog.display()));
    }
    fs::write(&catalog, noise(8192, 3)).unwrap();
    let out = ok(env.cmd(["--json", "root"]));
    assert_says(&stderr_of(&out), "making it again");
    assert_eq!(a_txt(&out)["sha256"], sha256_hex(b"alpha\n"));
    assert!(has_a_txt(&env));

    fs::remove_dir_all(env.store().join("cache")).unwrap();
    let out = ok(env.cmd(["--json", "root"]));
    assert!(json_lines(&out).iter().all(|l| l["status"] == "unchanged"));
    env.assert_store_valid();
}

#[test]
fn dry_run_reports_and_writes_nothing() {
    let env = Env::new();
    tree(&env);
    let out = ok(env.cmd(["--json", "--dry-run", "root"]));
    assert_eq!(
        field(&json_lines(&out), "status"),
        ["new", "new", "new", "duplicate", "new", "new"]
    );
    assert_eq!(json_summary(&out)["dry_run"], true);
    assert!(!env.store().exists(), "dry run created the store");

    ok(env.cmd(["root/a.txt"]));
    let manifest = env.manifest_bytes();
    let cache_before = files_under(&env.store().join("cache"))
        .into_iter()
        .map(|f| (fs::read(&f).unwrap(), f))
        .collect::<Vec<_>>();
    let out = ok(env.cmd(["--json", "--dry-run", "root"]));
    assert_eq!(
        field(&json_lines(&out), "status")[..4],
        ["unchanged", "new", "new", "duplicate"]
    );
    assert_eq!(env.manifest_bytes(), manifest);
    assert_eq!(env.objects().len(), 1);
    // Neither the files cache nor the catalog is written by a dry run.
    let cache_after = files_under(&env.store().join("cache"))
        .into_iter()
        .map(|f| (fs::read(&f).unwrap(), f))
        .collect::<Vec<_>>();
    assert_eq!(
        cache_after, cache_before,
        "a dry run changed the cache folder"
    );
}

#[test]
fn batch_sync_stores_the_same_as_per_file_sync() {
    let env = Env::new();
    for i in 0..600 {
        env.write(
            format!("root/{:03}/{i}.bin", i % 7),
            &noise(100 + i * 37, i as u64),
        );
    }
    let out = ok(env.cmd(["--json", "--sync", "batch", "root"]));
    assert_eq!(json_summary(&out)["new"]["count"], 600);
    assert_eq!(env.manifest().len(), 600);
    env.assert_store_valid();
}

/// Small files are streamed on several threads at once, large ones on the
/// main thread; whatever the mix, the output and the manifest follow the
/// walk, and every line names the right bytes.
#[test]
fn small_and_large_files_mixed_come_out_in_walk_order() {
    let env = Env::new();
    let mut expected = Vec::new();
    for i in 0..300usize {
        // Every 50th file is over the side threads' limit (256 KiB), and
        // the sizes vary so that later small files often finish first.
        let len = if i % 50 == 25 {
            300_000 + i
        } else {
            (i * 7919) % 60_000
        };
        let bytes = noise(len, i as u64);
        let name = format!("root/{i:04}.bin");
        env.write(&name, &bytes);
        expected.push((name, sha256_hex(&bytes)));
    }
    for sync in ["file", "batch"] {
        let env_run = Env::new();
        fs::rename(env.path().join("root"), env_run.path().join("root")).unwrap();
        let out = ok(env_run.cmd(["--json", "--sync", sync, "root"]));
        let lines = json_lines(&out);
        let got: Vec<(String, String)> = lines
            .iter()
            .map(|l| {
                (
                    l["path"].as_str().unwrap().to_owned(),
                    l["sha256"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(got, expected, "--sync {sync}: output order");
        let recorded: Vec<String> = env_run
            .manifest()
            .iter()
            .map(|l| l["sha256"].as_str().unwrap().to_owned())
            .collect();
        let want: Vec<String> = expected.iter().map(|(_, h)| h.clone()).collect();
        assert_eq!(recorded, want, "--sync {sync}: manifest order");
        env_run.assert_store_valid();
        fs::rename(env_run.path().join("root"), env.path().join("root")).unwrap();
    }
}

#[test]
fn a_held_lock_is_waited_for_then_given_up_with_exit_1() {
    let env = Env::new();
    env.write("a.txt", b"alpha\n");
    env.write("b.txt", b"beta\n");
    ok(env.cmd(["a.txt"]));
    let lock = fs::File::options()
        .write(true)
        .open(env.store().join("lock"))
        .unwrap();
    lock.lock().unwrap();
    let out = env.cmd(["--wait-lock", "0.3", "b.txt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "waiting for another ingest");
    assert_eq!(env.manifest().len(), 1);
    assert!(env.tmp_entries().is_empty());
    lock.unlock().unwrap();
    ok(env.cmd(["b.txt"]));
    assert_eq!(env.manifest().len(), 2);
}

#[test]
fn two_runs_over_overlapping_trees_at_once_both_finish_correctly() {
    let env = Env::new();
    for i in 0..300 {
        // Shared content across both trees, and a few names in both.
        env.write(
            format!("one/{i}.bin"),
            &noise(500 + i % 50, (i % 120) as u64),
        );
        env.write(
            format!("two/{i}.bin"),
            &noise(500 + i % 50, (i % 90) as u64),
        );
    }
    for round in 0..4 {
        let sync = if round % 2 == 0 { "file" } else { "batch" };
        let spawn = |dirs: &[&str]| {
            env.cmd(["-q", "--no-cache", "--sync", sync])
                .args(dirs)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let first = spawn(&["one", "two"]);
        let second = spawn(&["two", "one"]);
        for child in [first, second] {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", stderr_of(&out));
        }
    }
    let text = fs::read_to_string(env.store().join("manifest.jsonl")).unwrap();
    assert!(text.ends_with('\n'));
    let mut triples = HashSet::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("torn or garbled manifest line");
        let triple = (
            v["sha256"].to_string(),
            v["name"].to_string(),
            v["source"].to_string(),
        );
        assert!(triples.insert(triple.clone()), "recorded twice: {triple:?}");
    }
    assert_eq!(triples.len(), 600);
    env.assert_store_valid();
}

#[test]
fn walked_output_checks_with_sha256sum_c() {
    let env = Env::new();
    tree(&env);
    let out = ok(env.cmd(["root"]));
    let check = env.sha256sum_check(&out.stdout);
    assert!(check.status.success(), "{}", stdout_of(&check));
    assert_eq!(stdout_of(&check).lines().count(), 6);
    assert!(Path::new(&env.path().join("root/b/.hidden")).exists());
}

#[test]
fn a_file_changed_while_read_is_reported_and_not_cached() {
    let env = Env::new();
    let big = env.write("root/big.bin", &vec![1u8; 256 << 20]);
    age_files();
    let out = run_appending_mid_read(&env, &big, &["root"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "root/big.bin: changed while being read");
    // Kept only as seen (for deletions), never trusted to spare a read.
    let cache = env.cache_records();
    assert!(
        cache
            .iter()
            .filter(|r| r["path"].as_str().unwrap().contains("big.bin"))
            .all(|r| r["untrusted"] == true),
        "cached: {cache:?}"
    );
    env.assert_store_valid();
    // Without the cache, the change is still said.
    let out = run_appending_mid_read(&env, &big, &["--no-cache", "root"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "root/big.bin: changed while being read");
}

/// A run of `args`, stopped once it is writing a temp file, while a line
/// is appended to `file`.
fn run_appending_mid_read(env: &Env, file: &Path, args: &[&str]) -> std::process::Output {
    let child = env
        .cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    env.wait_for_temp_file();
    while_stopped(&child, || {
        let mut appended = fs::OpenOptions::new().append(true).open(file).unwrap();
        std::io::Write::write_all(&mut appended, b"one more line").unwrap();
    });
    child.wait_with_output().unwrap()
}

#[test]
fn a_file_named_on_the_command_line_is_also_known_to_the_cache() {
    let env = Env::new();
    env.write("video.mp4", &noise(32 << 20, 12));
    age_files();
    ok(env.cmd(["video.mp4"]));
    let (out, read) = env.bytes_read_by(&["--json", "video.mp4"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        read < 1 << 20,
        "read {read} bytes of an unchanged 32 MiB file"
    );
    let (_, read) = env.bytes_read_by(&["--no-cache", "video.mp4"]);
    assert!(read > 32 << 20, "--no-cache read only {read} bytes");
}

/// A store whose files cache is still the JSON-lines file of an older
/// version: its records move into the catalog, so the first run after an
/// upgrade reads no unchanged file, and the file goes.
#[test]
fn the_files_cache_of_an_older_version_moves_into_the_catalog() {
    let env = Env::new();
    env.write("root/big.bin", &noise(8 << 20, 5));
    env.write("root/small.txt", b"small\n");
    age_files();
    ok(env.cmd(["-q", "root"]));
    let records = env.cache_records();
    assert_eq!(records.len(), 2);
    let catalog = env.store().join("cache/catalog-v1.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", catalog.display()));
    }
    let legacy = env.store().join("cache/files-v1.jsonl");
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    fs::write(&legacy, text).unwrap();
    let (out, read) = env.bytes_read_by(&["-q", "root"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        read < 4 << 20,
        "read {read} bytes: the older cache was not used"
    );
    assert!(!legacy.exists(), "the older cache is still there");
    assert_eq!(env.cache_records().len(), 2);
}

/// The syscalls of a run of `args` named in `calls`, as strace logged them.
fn traced(env: &Env, calls: &str, args: &[&str]) -> String {
    let log = env.path().join("traced.log");
    let inner = env.cmd(args);
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", &format!("trace={calls}"), "-o"])
        .arg(&log)
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(env.path())
        .output()
        .expect("strace must be installed (.ci/setup installs it)");
    assert!(out.status.success(), "{}", stderr_of(&out));
    fs::read_to_string(&log).unwrap()
}

/// The default makes a tree durable in groups: its own files and folders
/// synced, never the whole filesystem (`syncfs` flushes every program's
/// writes); `--sync batch` still uses it, and `--sync file` syncs each
/// input and its folder on its own.
#[test]
fn the_default_syncs_its_own_files_and_folders_never_the_filesystem() {
    let env = Env::new();
    for i in 0..40 {
        env.write(
            format!("tree/{i:02}.bin"),
            &noise(3000 + i, 500 + 2 * i as u64),
        );
    }
    let count = |log: &str, call: &str| {
        log.lines()
            .filter(|l| l.contains(&format!("{call}(")))
            .count()
    };
    let default = traced(
        &env,
        "syncfs,fsync,fdatasync",
        &["-q", "--no-cache", "tree"],
    );
    assert_eq!(count(&default, "syncfs"), 0, "{default}");
    assert!(
        count(&default, "fsync") + count(&default, "fdatasync") >= 40,
        "{default}"
    );
    fs::remove_dir_all(env.store()).unwrap();
    let batch = traced(
        &env,
        "syncfs",
        &["-q", "--no-cache", "--sync", "batch", "tree"],
    );
    assert!(count(&batch, "syncfs") >= 1, "{batch}");
    env.assert_store_valid();
}
