//! Store integrity across commands: a store lives through cron runs, kills,
//! `gc`, `verify`, `export` and re-runs, and none of them, in any order or
//! at once, may lose data or hide its loss. Each test is named after what
//! broke; the randomized ones print their seed (`INGEST_TEST_SEED` replays).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::eventually;
use crate::util::*;

/// `count` small files under `dir`, each different, from `seed`, aged so
/// that the files cache takes them.
fn tree(env: &Env, dir: &str, count: usize, seed: u64) -> Vec<PathBuf> {
    let files = (0..count)
        .map(|i| {
            let bytes = noise(500 + (i * 131) % 3000, seed * 1000 + i as u64);
            env.write(format!("{dir}/f{i:03}.bin"), &bytes)
        })
        .collect();
    age_files();
    files
}

/// What a batch killed before its manifest append leaves: every object
/// published, no line names any, and no files cache.
fn orphan_everything(env: &Env) {
    fs::write(env.store().join("manifest.jsonl"), b"").unwrap();
    let _ = fs::remove_dir_all(env.store().join("cache"));
}

/// Holds a flock on `path` until dropped, as another ingest would.
fn hold_lock(path: &Path) -> fs::File {
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    file.lock().unwrap();
    file
}

/// Waits until the child has `path` open: the readiness signal that a run
/// has reached the store's lock (the point where it appends).
fn wait_until_open(child: &Child, path: &Path) {
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    eventually(
        Duration::from_secs(60),
        &format!("the run opening {path:?}"),
        || {
            fs::read_dir(&fds)
                .into_iter()
                .flatten()
                .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
                .any(|target| target == path)
        },
    );
}

/// Every file's bytes are in the store: an object of that hash, and a
/// manifest line naming it with that source.
fn assert_sources_stored(env: &Env, files: &[PathBuf]) {
    let manifest = env.manifest();
    for file in files {
        let hex = sha256_file(file);
        assert!(env.object(&hex).is_file(), "{file:?}: no object {hex}");
        let source = file.canonicalize().unwrap();
        assert!(
            manifest.iter().any(|l| l["sha256"] == hex.as_str()
                && Path::new(l["source"].as_str().unwrap()) == source),
            "{file:?}: no manifest line"
        );
    }
}

/// Each input's status, in the order of the paths (a file the cache
/// answers for is reported before the files streaming beside it).
fn statuses(out: &std::process::Output) -> Vec<String> {
    let mut lines: Vec<(String, String)> = json_lines(out)
        .iter()
        .map(|l| {
            (
                l["path"].as_str().unwrap().to_owned(),
                l["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, status)| status).collect()
}

fn verify_clean(env: &Env) {
    let out = env.cmd(["verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "verify: {}{}",
        stdout_of(&out),
        stderr_of(&out)
    );
}

#[test]
fn gc_waits_for_a_run_adopting_orphans_instead_of_deleting_them() {
    let env = Env::new();
    let files = tree(&env, "in", 40, 1);
    ok(env.cmd(["-q", "--sync", "batch", "in"]));
    orphan_everything(&env);
    let lock_path = env.store().canonicalize().unwrap().join("lock");
    let held = hold_lock(&lock_path);
    let mut run = env.cmd(["-q", "--sync", "batch", "in"]).spawn().unwrap();
    wait_until_open(&run, &lock_path);
    let gc = env
        .cmd(["gc", "--orphans", "--older-than", "0s", "--wait-lock", "1"])
        .output()
        .unwrap();
    drop(held);
    assert!(run.wait().unwrap().success());
    assert_eq!(gc.status.code(), Some(1), "{}", stderr_of(&gc));
    assert_says(&stderr_of(&gc), "another ingest is writing to the store");
    env.assert_store_valid();
    assert_sources_stored(&env, &files);
    verify_clean(&env);
}

#[test]
fn gc_at_random_moments_beside_adopting_runs_loses_nothing() {
    let seed = test_seed();
    println!("seed {seed} (INGEST_TEST_SEED={seed} replays it)");
    let mut rng = Moments(seed);
    let env = Env::new();
    let files = tree(&env, "in", 30, 2);
    ok(env.cmd(["-q", "in"]));
    let mut mid_run = 0;
    for round in 0..50 {
        orphan_everything(&env);
        let sync = if rng.next_below(2) == 0 {
            "file"
        } else {
            "batch"
        };
        let mut run = env.cmd(["-q", "--sync", sync, "in"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.next_below(60)));
        if run.try_wait().unwrap().is_none() {
            mid_run += 1;
        }
        let gc = env
            .cmd(["-q", "gc", "--orphans", "--older-than", "0s"])
            .output()
            .unwrap();
        assert!(run.wait().unwrap().success(), "seed {seed} round {round}");
        assert!(
            gc.status.success(),
            "seed {seed} round {round}: {}",
            stderr_of(&gc)
        );
        env.assert_store_valid();
        assert_sources_stored(&env, &files);
    }
    // Enough gcs must start while a run is at work, or this proves little.
    println!("{mid_run} of 50 gcs began while a run was at work");
    assert!(
        mid_run * 4 >= 50,
        "seed {seed}: only {mid_run} of 50 gcs began while a run was at work"
    );
}

#[test]
fn a_quarantined_object_is_stored_again_by_the_next_run_not_hidden_by_the_cache() {
    let env = Env::new();
    let files = tree(&env, "in", 3, 3);
    ok(env.cmd(["-q", "in"]));
    let victim = env.object(&sha256_file(&files[1]));
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&victim, b"rot").unwrap();
    let out = env.cmd(["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!victim.exists(), "verify did not quarantine it");
    let out = ok(env.cmd(["--json", "in"]));
    assert_eq!(statuses(&out), ["unchanged", "new", "unchanged"]);
    assert_sources_stored(&env, &files);
    verify_clean(&env);
}

#[test]
fn a_store_emptied_under_a_kept_cache_is_filled_again() {
    let env = Env::new();
    let files = tree(&env, "in", 3, 4);
    ok(env.cmd(["-q", "in"]));
    fs::remove_dir_all(env.store().join("objects")).unwrap();
    fs::remove_file(env.store().join("manifest.jsonl")).unwrap();
    assert!(!env.cache_records().is_empty());
    let out = ok(env.cmd(["--json", "in"]));
    assert_eq!(json_summary(&out)["new"]["count"], 3);
    assert_sources_stored(&env, &files);
    verify_clean(&env);
}

/// Three files stored; returns the manifest's bytes and the last file.
fn three_stored(env: &Env) -> (Vec<u8>, PathBuf) {
    let files = tree(env, "in", 3, 5);
    ok(env.cmd(["-q", "in"]));
    (env.manifest_bytes(), files[2].clone())
}

#[test]
fn a_torn_tail_is_repaired_by_the_next_run_though_the_cache_answers() {
    let env = Env::new();
    let (manifest, last) = three_stored(&env);
    fs::write(
        env.store().join("manifest.jsonl"),
        &manifest[..manifest.len() - 20],
    )
    .unwrap();
    let out = ok(env.cmd(["--json", "in"]));
    assert_eq!(statuses(&out), ["unchanged", "unchanged", "duplicate"]);
    assert!(env.manifest_bytes().ends_with(b"\n"));
    ok(env.cmd(["-q", "gc", "--orphans", "--older-than", "0s"]));
    assert_sources_stored(&env, &[last]);
    verify_clean(&env);
}

#[test]
fn gc_keeps_the_object_a_torn_last_line_may_name() {
    let env = Env::new();
    let (manifest, last) = three_stored(&env);
    let path = env.store().join("manifest.jsonl");
    let start = manifest[..manifest.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    // Cut inside the hash, then: the line only lost its newline.
    for cut in [start + 30, manifest.len() - 1] {
        fs::write(&path, &manifest[..cut]).unwrap();
        ok(env.cmd(["-q", "gc", "--orphans", "--older-than", "0s"]));
        assert!(
            env.object(&sha256_file(&last)).is_file(),
            "gc removed the object of a line cut at byte {cut}"
        );
    }
    // The next run that writes anything keeps that whole line.
    env.write("other.txt", b"other\n");
    ok(env.cmd(["-q", "other.txt"]));
    assert_eq!(env.manifest().len(), 4);
    assert_sources_stored(&env, &[last]);
    verify_clean(&env);
}

#[test]
fn export_copies_by_default_so_editing_the_export_leaves_the_store_alone() {
    let env = Env::new();
    let file = env.write("photo.jpg", &noise(5000, 6));
    ok(env.cmd(["-q", "photo.jpg"]));
    let dest = env.path().join("restore");
    ok(env.cmd(["-q", "export"]).arg(&dest));
    let exported = dest.join("photo.jpg");
    let object = env.object(&sha256_file(&file));
    assert_ne!(
        fs::metadata(&exported).unwrap().ino(),
        fs::metadata(&object).unwrap().ino()
    );
    assert_eq!(fs::metadata(&object).unwrap().nlink(), 1);
    fs::set_permissions(&exported, fs::Permissions::from_mode(0o644)).unwrap();
    fs::OpenOptions::new()
        .append(true)
        .open(&exported)
        .unwrap()
        .write_all(b"edited")
        .unwrap();
    verify_clean(&env);
}

#[test]
fn no_export_mode_hands_out_a_corrupt_object_with_exit_0() {
    let env = Env::new();
    let file = env.write("photo.jpg", &noise(5000, 7));
    ok(env.cmd(["-q", "photo.jpg"]));
    let object = env.object(&sha256_file(&file));
    fs::set_permissions(&object, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&object, b"rot").unwrap();
    for (i, mode) in ["default", "copy", "hard"].iter().enumerate() {
        let dest = env.path().join(format!("restore{i}"));
        let mut cmd = env.cmd(["export"]);
        cmd.arg(&dest);
        if *mode != "default" {
            cmd.args(["--link", mode]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{mode}: {}", stderr_of(&out));
        assert_says(&stderr_of(&out), "corrupt");
        assert!(!dest.join("photo.jpg").exists(), "{mode} exported it");
    }
}

#[test]
fn a_walk_of_home_never_stores_the_default_store() {
    let env = Env::new();
    let home = env.path().join("home");
    env.write("home/docs/a.txt", b"a\n");
    env.write("home/docs/b.txt", b"b\n");
    age_files();
    let run = || {
        let mut cmd = bare_cmd();
        cmd.env("HOME", &home)
            .args(["--json", "--progress", "never"])
            .arg(&home);
        ok(cmd)
    };
    run();
    let store = home.join(".local/share/ingest");
    let lines = fs::read_to_string(store.join("manifest.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    let second = run();
    assert_eq!(json_summary(&second)["unchanged"]["count"], 2);
    assert_eq!(
        fs::read_to_string(store.join("manifest.jsonl")).unwrap(),
        lines,
        "the store grew"
    );
}

#[test]
fn a_walk_never_enters_the_store_through_a_symlink() {
    let env = Env::new();
    env.write("tree/a.txt", b"a\n");
    let real = env.path().join("tree/real-store");
    fs::create_dir_all(&real).unwrap();
    let link = env.path().join("store-link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    std::os::unix::fs::symlink(&real, env.path().join("tree/again")).unwrap();
    for follow in [false, true] {
        let mut cmd = bare_cmd();
        cmd.current_dir(env.path())
            .args(["-q", "--progress", "never", "--store"])
            .arg(&link);
        if follow {
            cmd.arg("-L");
        }
        ok(cmd.arg("tree"));
    }
    let text = fs::read_to_string(real.join("manifest.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    // The store named as a folder to store is refused, with a warning.
    let mut cmd = bare_cmd();
    cmd.current_dir(env.path())
        .args(["--progress", "never", "--store"])
        .arg(&link)
        .arg("tree/real-store");
    let out = ok(cmd);
    assert_says(&stderr_of(&out), "it is the store");
}

#[test]
fn a_closed_stderr_neither_panics_nor_stops_the_run() {
    let env = Env::new();
    let png =
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/photo.png"))
            .unwrap();
    for i in 0..300 {
        let mut bytes = png.clone();
        bytes.extend_from_slice(format!("{i}").as_bytes());
        // Named .jpg: each one warns.
        env.write(format!("in/p{i:03}.jpg"), &bytes);
    }
    let mut child = env
        .cmd(["in"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(env.manifest().len(), 300);
    env.assert_store_valid();
}

#[test]
fn types_and_names_from_inputs_are_escaped_in_human_output() {
    let env = Env::new();
    env.write("evil\u{1b}[31m.dat", &noise(100, 8));
    // A type that is not one media type is a usage error, said escaped.
    let out = env
        .cmd([
            "--content-type",
            "text/x\nfake row\u{1b}[2J",
            "evil\u{1b}[31m.dat",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(!out.stderr.contains(&0x1b), "{}", stderr_of(&out));
    assert!(env.objects().is_empty());
    let out = ok(env.cmd(["evil\u{1b}[31m.dat"]));
    assert!(!out.stderr.contains(&0x1b), "{}", stderr_of(&out));
    // A line an older binary wrote with such a type is shown escaped.
    let mut line = env.manifest()[0].clone();
    line["mime"] = serde_json::json!("text/x\nfake row\u{1b}[2J");
    let mut manifest = env.manifest_bytes();
    manifest.extend_from_slice(format!("{line}\n").as_bytes());
    std::fs::write(env.store().join("manifest.jsonl"), manifest).unwrap();
    let out = ok(env.cmd(["ls"]));
    assert!(!out.stdout.contains(&0x1b), "{}", stdout_of(&out));
    assert_eq!(stdout_of(&out).lines().count(), 2, "{}", stdout_of(&out));
    assert_says(&stdout_of(&out), "text/x\\nfake row\\u{1b}[2J");
}

/// A fake clamd on a unix socket: `serve` gets each connection.
fn fake_clamd(
    dir: &Path,
    serve: impl Fn(std::os::unix::net::UnixStream) + Send + 'static,
) -> PathBuf {
    let socket = dir.join("fake-clamd.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            serve(stream);
        }
    });
    socket
}

/// Reads the INSTREAM command and chunks until `limit` bytes of data or
/// the stream's end; returns whether the end came.
fn read_instream(stream: &mut impl Read, limit: usize) -> bool {
    let mut command = [0u8; 10];
    if stream.read_exact(&mut command).is_err() {
        return false;
    }
    let mut got = 0;
    while got < limit {
        let mut len = [0u8; 4];
        if stream.read_exact(&mut len).is_err() {
            return false;
        }
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            return true;
        }
        let mut chunk = vec![0u8; len];
        if stream.read_exact(&mut chunk).is_err() {
            return false;
        }
        got += len;
    }
    false
}

#[test]
fn a_clamd_that_answers_before_taking_the_whole_stream_fails_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    // Reads 40 KB, says OK, hangs up.
    let hangs_up = fake_clamd(&dir.path().join(""), |mut s| {
        read_instream(&mut s, 40_000);
        let _ = s.write_all(b"stream: OK\0");
    });
    let sub = dir.path().join("quiet");
    fs::create_dir(&sub).unwrap();
    // Reads 1 KB, says OK, and keeps reading without listening (the input
    // is larger than the socket's buffers: its end is sent after the OK).
    let talks_early = fake_clamd(&sub, |mut s| {
        read_instream(&mut s, 1000);
        let _ = s.write_all(b"stream: OK\0");
        let _ = std::io::copy(&mut s, &mut std::io::sink());
    });
    let env = Env::seeded();
    env.write("big.bin", &noise(3 << 20, 9));
    env.write("other.bin", &noise(3 << 20, 10));
    let before = env.snapshot();
    for (socket, file) in [(&hangs_up, "big.bin"), (&talks_early, "other.bin")] {
        let out = env
            .cmd(["--json", "--clamd"])
            .arg(socket)
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{file}: {}", stderr_of(&out));
        let line = &json_lines(&out)[0];
        assert_eq!(line["status"], "failed", "{file}");
        assert_says(
            line["error"].as_str().unwrap(),
            "before the whole stream was sent",
        );
    }
    assert_eq!(env.snapshot(), before);
}

#[test]
fn scan_timeout_bounds_a_reply_dripped_a_byte_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_clamd(dir.path(), |mut s| {
        if read_instream(&mut s, usize::MAX) {
            for byte in b"stream: OK\0" {
                if s.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    });
    let env = Env::seeded();
    env.write("a.bin", &noise(5000, 11));
    let started = Instant::now();
    let out = env
        .cmd(["--json", "--scan-timeout", "2", "--clamd"])
        .arg(&socket)
        .arg("a.bin")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_says(
        json_lines(&out)[0]["error"].as_str().unwrap(),
        "no answer within 2 s",
    );
    // The reply would take 11 s; the bound is 2 s (generous margin).
    assert!(took < Duration::from_secs(8), "took {took:?}");
}

#[test]
fn absurd_waits_are_usage_errors_that_write_nothing() {
    let env = Env::new();
    env.write("a.txt", b"a\n");
    for args in [
        ["--wait-lock", "1e19"],
        ["--wait-lock", "inf"],
        ["--wait-lock", "-1"],
        ["--scan-timeout", "inf"],
        ["--scan-timeout", "NaN"],
    ] {
        let out = env.cmd(args).arg("a.txt").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(!env.store().exists(), "{args:?} wrote the store");
    }
    let env = Env::seeded();
    env.write("a.txt", b"a\n");
    fs::write(
        env.store().join("config.json"),
        br#"{"scan_timeout": 1e300}"#,
    )
    .unwrap();
    let before = env.snapshot();
    let out = env.cmd(["a.txt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "config.json");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn export_overwrite_works_for_the_longest_names() {
    let env = Env::new();
    let name = format!("{}.jpg", "x".repeat(250));
    env.write(&name, &noise(100, 12));
    ok(env.cmd(["-q"]).arg(&name));
    let dest = env.path().join("out");
    ok(env.cmd(["-q", "export"]).arg(&dest));
    let out = ok(env.cmd(["export", "--overwrite"]).arg(&dest));
    assert_eq!(stdout_of(&out).lines().count(), 1);
    assert_eq!(fs::read_dir(&dest).unwrap().count(), 1);
}

#[test]
fn a_dry_run_creates_nothing_and_needs_no_write_access() {
    let env = Env::seeded();
    for lock in ["lock", "gc.lock"] {
        let _ = fs::remove_file(env.store().join(lock));
    }
    env.write("a.txt", b"a\n");
    let before = env.snapshot();
    ok(env.cmd(["--dry-run", "a.txt", "seed.txt"]));
    assert!(!env.store().join("lock").exists());
    assert!(!env.store().join("gc.lock").exists());
    assert_eq!(env.snapshot(), before);
    fs::set_permissions(env.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(env.path().join("a.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    let out = as_nobody(&env, &["--dry-run", "a.txt"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn verify_reports_an_unreadable_object_and_goes_on() {
    let env = Env::new();
    let files = tree(&env, "in", 3, 13);
    ok(env.cmd(["-q", "in"]));
    fs::set_permissions(env.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let locked = env.object(&sha256_file(&files[0]));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let out = as_nobody(&env, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_says(&text, "unreadable");
    assert_says(&stderr_of(&out), "verified 3 objects");
}

#[test]
fn gc_quiet_prints_nothing_but_errors() {
    let env = Env::seeded();
    let temp = env.store().join("tmp/ingest-left.tmp");
    fs::write(&temp, b"left behind").unwrap();
    let old = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&temp)
        .status()
        .unwrap();
    assert!(old.success());
    let out = ok(env.cmd(["-q", "gc"]));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        stdout_of(&out)
    );
    assert!(!temp.exists());
}

#[test]
fn cat_of_a_fifo_planted_at_an_object_path_fails_rather_than_hangs() {
    let env = Env::new();
    let file = env.write("a.txt", b"a\n");
    ok(env.cmd(["-q", "a.txt"]));
    let hex = sha256_file(&file);
    fs::remove_file(env.object(&hex)).unwrap();
    mkfifo(&env.object(&hex));
    let mut child = env
        .cmd(["cat", &hex])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ingest cat hung on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
}

#[test]
fn a_closed_stdin_is_a_usage_error() {
    let env = Env::new();
    let inner = env.cmd(["-"]);
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#""$@" <&-"#)
        .arg("_")
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(env.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(!env.store().exists());
}

/// Kills a child at once, as a crash would (it may have ended already).
/// Kills the child at once; whether it was still running (the kill landed
/// mid-run, not after it ended).
fn kill_now(child: &mut Child) -> bool {
    let running = child.try_wait().unwrap().is_none();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    running
}

/// The problems `verify --json` reported, by kind.
fn problem_kinds(out: &std::process::Output) -> Vec<String> {
    stdout_of(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["problem"].as_str().map(str::to_owned))
        .collect()
}

/// Every manifest line names an object that exists with its size, and
/// every object hashes to its name (temp files from a kill may remain).
fn assert_lines_name_good_objects(env: &Env, context: &str) {
    for object in env.objects() {
        let name = object.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(
            sha256_file(&object),
            name,
            "{context}: {object:?} is corrupt"
        );
    }
    for line in env.manifest() {
        let hex = line["sha256"].as_str().unwrap();
        let meta = fs::metadata(env.object(hex))
            .unwrap_or_else(|_| panic!("{context}: a line names the missing {hex}"));
        assert_eq!(meta.len(), line["size"].as_u64().unwrap(), "{context}");
    }
}

/// The files cache agrees with the store: the last record of each path
/// names an object that exists, and a line with that source names it.
fn assert_cache_agrees(env: &Env) {
    let mut last = std::collections::HashMap::new();
    for record in env.cache_records() {
        last.insert(record["path"].as_str().unwrap().to_owned(), record);
    }
    let manifest = env.manifest();
    for (path, record) in last {
        let hex = record["sha256"].as_str().unwrap();
        assert!(env.object(hex).is_file(), "cache names the missing {hex}");
        assert!(
            manifest
                .iter()
                .any(|l| l["sha256"] == hex && l["source"] == path.as_str()),
            "cache record for {path} has no manifest line"
        );
    }
}

#[test]
fn a_store_lives_through_rounds_of_kills_gc_verify_export_and_reruns() {
    let seed = test_seed();
    println!("seed {seed} (INGEST_TEST_SEED={seed} replays it)");
    let mut rng = Moments(seed);
    let env = Env::new();
    let mut files = tree(&env, "in", 30, 14);
    ok(env.cmd(["-q", "in"]));
    let (mut killed_mid_run, mut ever_rotted) = (0, false);
    // Kills are drawn within the time a run that reads everything takes
    // here, and every other run reads everything (no cache), so that
    // enough of them land while it works (counted below).
    let started = Instant::now();
    ok(env.cmd(["-q", "--no-cache", "in"]));
    let span = (started.elapsed().as_millis() as u64).max(20);
    for round in 0..20 {
        let context = format!("seed {seed} round {round}");
        // The source changes a little between nights.
        match rng.next_below(3) {
            0 => files.push(env.write(format!("in/new{round}.bin"), &noise(2000, seed ^ round))),
            1 => {
                let victim = &files[rng.next_below(files.len() as u64) as usize];
                fs::write(victim, noise(1500, seed ^ (round << 8))).unwrap();
            }
            _ => {}
        }
        let sync = ["file", "batch"][rng.next_below(2) as usize];
        let mut args = vec!["-q", "--sync", sync, "in"];
        if round % 2 == 0 {
            args.insert(1, "--no-cache");
        }
        let mut run = env.cmd(&args).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.next_below(span / 2)));
        let gc = env
            .cmd(["-q", "gc", "--orphans", "--older-than", "0s"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.next_below(span / 2)));
        if kill_now(&mut run) {
            killed_mid_run += 1;
        }
        let gc = gc.wait_with_output().unwrap();
        assert!(
            gc.status.success(),
            "{context}: gc failed: {}",
            stderr_of(&gc)
        );
        assert_lines_name_good_objects(&env, &context);
        // Now and then an object rots on disk.
        // Now and then an object rots on disk: one whose bytes a source
        // still holds (rot of the only copy is beyond any tool's repair).
        let rotted = rng.next_below(4) == 0;
        ever_rotted |= rotted;
        if rotted {
            let file = &files[rng.next_below(files.len() as u64) as usize];
            let victim = env.object(&sha256_file(file));
            if victim.is_file() {
                fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
                fs::write(&victim, b"rot").unwrap();
            }
        }
        let verify = env.cmd(["--json", "verify"]).output().unwrap();
        for kind in problem_kinds(&verify) {
            let allowed = matches!(kind.as_str(), "orphan" | "temp" | "torn")
                || (rotted && matches!(kind.as_str(), "corrupt" | "missing"));
            assert!(
                allowed,
                "{context}: verify found {kind}: {}",
                stdout_of(&verify)
            );
        }
        // Someone looks at the photos, and edits one in place.
        let dest = env.path().join(format!("export{round}"));
        let export = env.cmd(["-q", "export"]).arg(&dest).output().unwrap();
        // 3 when an entry's object is damaged or missing: then only.
        let code = export.status.code();
        assert!(
            code == Some(0) || (ever_rotted && code == Some(3)),
            "{context}: export ended {code:?}: {}",
            stderr_of(&export)
        );
        if let Some(Ok(entry)) = fs::read_dir(&dest).ok().and_then(|mut d| d.next()) {
            fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o644)).unwrap();
            fs::write(entry.path(), b"edited").unwrap();
        }
        // The next night's run completes the work.
        ok(env.cmd(["-q", "--sync", sync, "in"]));
        assert_lines_name_good_objects(&env, &context);
        assert_sources_stored(&env, &files);
    }
    ok(env.cmd(["-q", "gc", "--orphans", "--older-than", "0s"]));
    verify_clean(&env);
    assert_sources_stored(&env, &files);
    assert_cache_agrees(&env);
    println!("{killed_mid_run} of 20 kills landed mid-run");
    assert!(
        killed_mid_run * 4 >= 20,
        "seed {seed}: only {killed_mid_run} of 20 kills landed while the run was at work"
    );
}
