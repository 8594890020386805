//! What ingest survives: damaged stores, hostile names, permissions, cut
//! pipes, disk full while appending, and many writers at once.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::tmpfs;
use crate::util::*;

fn append_manifest(env: &Env, text: &str) {
    let mut manifest = fs::OpenOptions::new()
        .append(true)
        .open(env.store().join("manifest.jsonl"))
        .unwrap();
    manifest.write_all(text.as_bytes()).unwrap();
}

#[test]
fn lines_from_a_newer_version_and_garbage_do_not_stop_ingest() {
    let env = Env::seeded();
    let mut newer: Value = env.manifest()[0].clone();
    newer["name"] = "from-the-future.txt".into();
    newer["path"] = "from-the-future.txt".into();
    newer["thumbnail"] = serde_json::json!({"w": 64});
    append_manifest(&env, &format!("{newer}\n\u{1}garbage\u{0} line\n"));
    env.write("next.txt", b"next\n");
    ok(env.cmd(["next.txt"]));
    let text = fs::read_to_string(env.store().join("manifest.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 4);
    let listed = stdout_of(&ok(env.cmd(["ls"])));
    assert!(
        listed.contains("from-the-future.txt") && listed.contains("next.txt"),
        "{listed}"
    );
    // The same file again is recognised, even past a garbage line.
    let again = ok(env.cmd(["--json", "next.txt", "--no-cache"]));
    assert_eq!(json_lines(&again)[0]["status"], "unchanged");
}

#[test]
fn a_tmp_that_is_a_file_or_an_object_that_is_a_folder_is_a_clear_error() {
    let env = Env::seeded();
    fs::remove_dir(env.store().join("tmp")).unwrap();
    fs::write(env.store().join("tmp"), b"not a folder").unwrap();
    env.write("a.txt", b"a\n");
    let out = env.cmd(["a.txt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_says(
        &stderr_of(&out),
        "tmp is not a directory: the store is damaged",
    );
    fs::remove_file(env.store().join("tmp")).unwrap();

    let hex = sha256_hex(b"a\n");
    fs::create_dir_all(env.object(&hex)).unwrap();
    let before = env.manifest_bytes();
    // One object is looked up before its rename; a batch finds the folder
    // by its rename, not by a look first.
    env.write("b.txt", b"b\n");
    for args in [&["a.txt"][..], &["--sync", "batch", "b.txt", "a.txt"]] {
        let out = env.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("is not a file: the store is damaged"),
            "{args:?}: {}",
            stderr_of(&out)
        );
        assert_eq!(
            env.manifest_bytes(),
            before,
            "{args:?}: a line now names a folder"
        );
        assert!(env.tmp_entries().is_empty(), "{args:?}");
    }
}

/// Names with newlines, tabs, quotes, backslashes and bytes that are not
/// UTF-8, and a path of about 4000 bytes: the manifest keeps them exactly,
/// and the stdout lines check with `sha256sum -c`.
#[test]
fn hostile_names_round_trip_through_the_manifest_and_sha256sum_lines() {
    let env = Env::new();
    let names: Vec<&[u8]> = vec![
        b"new\nline.jpg",
        b"tab\there.jpg",
        b"quote\"s.jpg",
        b"back\\slash.jpg",
        b"caf\xe9.jpg",
        b"\xff\xfe.bin",
    ];
    let dir = env.path().join("in");
    fs::create_dir(&dir).unwrap();
    for (i, name) in names.iter().enumerate() {
        fs::write(dir.join(OsStr::from_bytes(name)), format!("content {i}\n")).unwrap();
    }
    let mut deep = dir.clone();
    while deep.as_os_str().len() < 3900 {
        deep = deep.join("d".repeat(200));
    }
    fs::create_dir_all(&deep).unwrap();
    let long_file = deep.join("long.txt");
    fs::write(&long_file, b"deep\n").unwrap();
    assert!(long_file.as_os_str().len() > 3900);

    let out = ok(env.cmd(["in"]));
    let check = env.sha256sum_check(&out.stdout);
    assert!(
        check.status.success(),
        "{}\n{}",
        stdout_of(&check),
        stderr_of(&check)
    );
    assert_eq!(stdout_of(&check).matches(": OK").count(), names.len() + 1);

    let lines = env.manifest();
    for name in &names {
        let found = lines.iter().any(|l| {
            let raw = match l.get("name_b64") {
                Some(b64) => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.as_str().unwrap())
                        .unwrap()
                }
                None => l["name"].as_str().unwrap().as_bytes().to_vec(),
            };
            raw == *name
        });
        assert!(
            found,
            "{:?} not kept exactly",
            String::from_utf8_lossy(name)
        );
    }
    let deep_line = lines.iter().find(|l| l["name"] == "long.txt").unwrap();
    assert!(deep_line["source"].as_str().unwrap().len() > 3900);
    // And back out under the same bytes' safe names.
    ok(env.cmd(["export", "out"]).current_dir(env.path()));
    assert_eq!(
        fs::read_dir(env.path().join("out")).unwrap().count(),
        names.len() + 1
    );
}

fn open_up(path: &Path) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_read_only_store_fails_with_exit_1_for_an_unprivileged_user() {
    let env = Env::seeded();
    open_up(env.path());
    env.write("a.txt", b"a\n");
    fs::set_permissions(env.path().join("a.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    let before = env.manifest_bytes();
    let out = as_nobody(&env, &["a.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("Permission denied") && err.contains("store/tmp"),
        "{err}"
    );
    assert_eq!(env.manifest_bytes(), before);
    // The tools that only read still work.
    let out = as_nobody(&env, &["ls"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn an_unwritable_tmp_fails_with_exit_1_and_loses_nothing() {
    let env = Env::seeded();
    open_up(env.path());
    env.write("a.txt", b"a\n");
    // The store belongs to the user, but tmp/ does not.
    Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(env.store())
        .status()
        .unwrap();
    Command::new("chown")
        .args(["0:0"])
        .arg(env.store().join("tmp"))
        .status()
        .unwrap();
    let out = as_nobody(&env, &["a.txt", "seed.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "creating a temp file in");
    assert_eq!(env.manifest().len(), 1);
    Command::new("chown")
        .args(["65534:65534"])
        .arg(env.store().join("tmp"))
        .status()
        .unwrap();
    let out = as_nobody(&env, &["a.txt"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    env.assert_store_valid();
}

/// A FIFO whose writer dies is, to ingest, a shorter input: stored as
/// read. `--sha256` is how a caller detects the cut.
#[test]
fn a_fifo_whose_writer_is_killed_is_a_shorter_input() {
    let env = Env::new();
    let fifo = env.path().join("fifo");
    mkfifo(&fifo);
    let whole = noise(300_000, 8);
    let sent = &whole[..100_000];
    let expected = sha256_hex(&whole);

    for check in [None, Some(expected.as_str())] {
        let mut args = vec!["--json", "--name", "cut.bin"];
        if let Some(hex) = check {
            args.extend(["--sha256", hex]);
        }
        args.push("-");
        // The read end first, then the writer's end, held by a child that
        // copies our bytes in and then sleeps: ingest sees no EOF until the
        // child is killed.
        let read_end = fs::File::open_fifo(&fifo);
        let write_end = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        let mut writer = Command::new("sh")
            .arg("-c")
            .arg("cat; exec sleep 600")
            .stdin(Stdio::piped())
            .stdout(Stdio::from(write_end))
            .spawn()
            .unwrap();
        let reader = env
            .cmd(&args)
            .stdin(read_end)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        writer.stdin.take().unwrap().write_all(sent).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while env.tmp_entries().is_empty()
            || fs::metadata(&env.tmp_entries()[0])
                .map(|m| m.len())
                .unwrap_or(0)
                < sent.len() as u64
        {
            assert!(
                std::time::Instant::now() < deadline,
                "ingest did not read the FIFO"
            );
            std::thread::yield_now();
        }
        // SAFETY: SIGKILL to our own child (the shell holding the FIFO open).
        unsafe { libc::kill(writer.id() as i32, libc::SIGKILL) };
        let _ = writer.wait();
        let out = reader.wait_with_output().unwrap();
        let line = &json_lines(&out)[0];
        match check {
            None => {
                assert_eq!(out.status.code(), Some(0));
                assert_eq!(line["size"], sent.len() as u64);
                assert_eq!(line["sha256"], sha256_hex(sent));
            }
            Some(_) => {
                assert_eq!(out.status.code(), Some(3));
                assert_eq!(line["reason"], "hash_mismatch");
            }
        }
    }
}

trait OpenFifo {
    fn open_fifo(path: &Path) -> Stdio;
}

impl OpenFifo for fs::File {
    /// Opens a FIFO for reading without waiting for a writer.
    fn open_fifo(path: &Path) -> Stdio {
        use std::os::unix::fs::OpenOptionsExt;
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .unwrap();
        // Blocking again, so ingest waits for data rather than seeing EAGAIN.
        // SAFETY: fcntl on a descriptor we own, with plain integer flags.
        unsafe {
            use std::os::fd::AsRawFd;
            let fd = file.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
        Stdio::from(file)
    }
}

#[test]
fn four_writers_over_overlapping_inputs_leave_a_valid_store() {
    let env = Env::new();
    for i in 0..200 {
        env.write(
            format!("t{}/{i}.bin", i % 4),
            &noise(300 + i % 37, (i % 60) as u64),
        );
        env.write(format!("shared/{i}.bin"), &noise(400, (i % 50) as u64));
    }
    for round in 0..3 {
        let children: Vec<_> = (0..4)
            .map(|k| {
                let sync = if (k + round) % 2 == 0 {
                    "file"
                } else {
                    "batch"
                };
                env.cmd([
                    "-q",
                    "--no-cache",
                    "--sync",
                    sync,
                    "shared",
                    &format!("t{k}"),
                    &format!("t{}", (k + 1) % 4),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", stderr_of(&out));
        }
    }
    let text = fs::read_to_string(env.store().join("manifest.jsonl")).unwrap();
    let mut triples = HashSet::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("torn or garbled line");
        assert!(
            triples.insert((
                v["sha256"].to_string(),
                v["name"].to_string(),
                v["source"].to_string()
            )),
            "twice: {line}"
        );
    }
    assert_eq!(triples.len(), 400);
    env.assert_store_valid();
    ok(env.cmd(["verify"]));
}

fn free_pages(dir: &Path) -> u64 {
    let out = Command::new("stat")
        .args(["-f", "-c", "%a"])
        .arg(dir)
        .output()
        .unwrap();
    stdout_of(&out).trim().parse().unwrap()
}

#[test]
fn a_full_disk_leaves_no_temp_file_and_the_same_command_succeeds_after() {
    let env = Env::new();
    let _mount = tmpfs(&env.path().join("small"), "8m");
    let store = env.path().join("small/store");
    let big = env.write("big.bin", &noise(20 << 20, 9));
    let mut cmd = bare_cmd();
    cmd.args(["--progress", "never", "--store"])
        .arg(&store)
        .arg(&big);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_says(&stderr_of(&out), "No space left on device");
    assert_eq!(fs::read_dir(store.join("tmp")).unwrap().count(), 0);

    Command::new("mount")
        .args(["-o", "remount,size=40m"])
        .arg(env.path().join("small"))
        .status()
        .unwrap();
    let mut again = bare_cmd();
    again
        .args(["--progress", "never", "--store"])
        .arg(&store)
        .arg(&big);
    ok(again);
    assert_eq!(
        fs::read_to_string(store.join("manifest.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

/// The object fits, the manifest's next page does not: the append fails,
/// is taken back whole, and the run says so. Freeing space, the same
/// command records it.
#[test]
fn enospc_while_appending_the_manifest_leaves_no_torn_line() {
    let env = Env::new();
    let _mount = tmpfs(&env.path().join("small"), "1m");
    let store = env.path().join("small/store");
    let run = |file: &Path| {
        let mut cmd = bare_cmd();
        cmd.args(["--progress", "never", "--store"])
            .arg(&store)
            .arg(file);
        cmd.output().unwrap()
    };
    let first = env.write("first.txt", b"first\n");
    assert!(run(&first).status.success());
    // The catalog (SQLite, whose WAL and shared memory come and go) lives
    // elsewhere here, so the pages counted below are the object's and the
    // manifest's alone.
    let cache = env.path().join("cache-elsewhere");
    fs::create_dir_all(&cache).unwrap();
    fs::remove_dir_all(store.join("cache")).unwrap();
    std::os::unix::fs::symlink(&cache, store.join("cache")).unwrap();
    // Pad the manifest to exactly one full page with a valid line.
    let manifest = store.join("manifest.jsonl");
    let line = fs::read_to_string(&manifest).unwrap();
    let pad = 4096 - 2 * line.len();
    let longer = line.replacen(
        "\"first.txt\"",
        &format!("\"first{}.txt\"", "x".repeat(pad)),
        1,
    );
    append_manifest_at(&manifest, &longer);
    assert_eq!(fs::metadata(&manifest).unwrap().len(), 4096);
    // Leave room for the next object's one page, not for a manifest page.
    let filler_pages = free_pages(&store) - 1;
    fs::write(
        store.join("filler"),
        vec![0u8; (filler_pages * 4096) as usize],
    )
    .unwrap();

    let second = env.write("second.txt", b"second\n");
    let before = fs::read(&manifest).unwrap();
    let out = run(&second);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "appending to");
    assert_says(&stderr_of(&out), "No space left");
    assert_eq!(fs::read(&manifest).unwrap(), before, "the manifest changed");
    assert_eq!(fs::read_dir(store.join("tmp")).unwrap().count(), 0);

    fs::remove_file(store.join("filler")).unwrap();
    assert!(run(&second).status.success());
    assert_eq!(fs::read_to_string(&manifest).unwrap().lines().count(), 3);
}

fn append_manifest_at(manifest: &Path, text: &str) {
    let mut file = fs::OpenOptions::new().append(true).open(manifest).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}
