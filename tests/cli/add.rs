//! Storing files and standard input: the core job.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use assert_cmd::prelude::*;
use predicates::prelude::*;

use crate::util::*;

#[test]
fn a_file_is_stored_under_its_sha256_read_only() {
    let env = Env::new();
    let data = noise(100_000, 1);
    let file = env.write("photo.bin", &data);
    let quiet = ok(env.cmd(["photo.bin"]).arg("-q"));
    assert!(
        quiet.stdout.is_empty() && quiet.stderr.is_empty(),
        "-q printed something"
    );
    let out = ok(env.cmd(["photo.bin"]));

    let reference = Command::new("sha256sum").arg(&file).output().unwrap();
    let expected_hex = stdout_of(&reference)[..64].to_owned();
    assert_eq!(expected_hex, sha256_hex(&data));
    assert_eq!(stdout_of(&out), format!("{expected_hex}  photo.bin\n"));

    let object = env.object(&expected_hex);
    assert_eq!(fs::read(&object).unwrap(), data);
    assert_eq!(
        fs::metadata(&object).unwrap().permissions().mode() & 0o777,
        0o444
    );
    env.assert_store_valid();
}

#[test]
fn output_checks_with_sha256sum_c() {
    let env = Env::new();
    env.write("a.txt", b"alpha\n");
    env.write("sub/b.txt", b"beta\n");
    let out = ok(&mut env.cmd(["a.txt", "sub/b.txt"]));
    let check = env.sha256sum_check(&out.stdout);
    assert!(check.status.success(), "{}", stdout_of(&check));
    let checked = stdout_of(&check);
    assert!(
        checked.contains("a.txt: OK") && checked.contains("sub/b.txt: OK"),
        "{checked}"
    );
}

#[test]
fn manifest_line_has_every_field() {
    let env = Env::new();
    env.write("notes.txt", b"hello\n");
    ok(&mut env.cmd(["notes.txt"]));
    let lines = env.manifest();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["sha256"], sha256_hex(b"hello\n"));
    assert_eq!(line["size"], 6);
    assert_eq!(line["mime"], "text/plain");
    assert_eq!(line["ext"], "txt");
    assert_eq!(line["name"], "notes.txt");
    let source = env.path().canonicalize().unwrap().join("notes.txt");
    assert_eq!(line["source"], source.to_str().unwrap());
    assert_eq!(line["new"], true);
    let when = line["ingested_at"].as_str().unwrap();
    assert!(
        when.ends_with('Z') && when.len() == 20,
        "not RFC 3339 UTC: {when}"
    );
    assert_eq!(
        fs::read_to_string(env.store().join("store.json"))
            .unwrap()
            .trim(),
        r#"{"format":"ingest-store","version":1,"hash":"sha256"}"#
    );
}

#[test]
fn stdin_is_stored_under_its_name() {
    let env = Env::new();
    let data = noise(70_000, 2);
    let out = with_stdin(
        env.cmd(["--name", "IMG_0001.jpg", "-", "--json"]),
        data.clone(),
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let reported = json_lines(&out);
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0]["status"], "new");
    assert_eq!(reported[0]["sha256"], sha256_hex(&data));
    let line = &env.manifest()[0];
    assert_eq!(line["name"], "IMG_0001.jpg");
    assert_eq!(line["source"], "-");
    assert_eq!(fs::read(env.object(&sha256_hex(&data))).unwrap(), data);
}

#[test]
fn stdin_without_dash_is_read_from_a_pipe() {
    let env = Env::new();
    let out = with_stdin(env.cmd(Vec::<&str>::new()), "piped\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), format!("{}  -\n", sha256_hex(b"piped\n")));
    assert_eq!(env.manifest()[0]["name"], "-");
}

#[test]
fn rerunning_the_same_command_appends_nothing() {
    let env = Env::new();
    env.write("a.jpg", &noise(5000, 3));
    env.write("b.jpg", &noise(5000, 4));
    ok(&mut env.cmd(["a.jpg", "b.jpg"]));
    let before = env.manifest_bytes();
    assert_eq!(env.manifest().len(), 2);

    let again = ok(env.cmd(["a.jpg", "b.jpg", "--json"]));
    let statuses: Vec<_> = json_lines(&again)
        .iter()
        .map(|l| l["status"].clone())
        .collect();
    assert_eq!(statuses, ["unchanged", "unchanged"]);
    assert_eq!(env.manifest_bytes(), before);
    assert_says(&stderr_of(&again), "2 unchanged");
}

#[test]
fn the_same_content_under_a_new_name_is_a_duplicate() {
    let env = Env::new();
    let data = noise(20_000, 5);
    env.write("one.bin", &data);
    env.write("two.bin", &data);
    ok(&mut env.cmd(["one.bin"]));
    let object = env.object(&sha256_hex(&data));
    let first_mtime = fs::metadata(&object).unwrap().modified().unwrap();

    let out = ok(env.cmd(["two.bin", "--json"]));
    assert_eq!(json_lines(&out)[0]["status"], "duplicate");
    assert_says(&stderr_of(&out), "1 duplicate (19.53 KiB saved)");
    let lines = env.manifest();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["name"], "two.bin");
    assert_eq!(lines[1]["new"], false);
    assert_eq!(env.objects().len(), 1);
    assert_eq!(
        fs::metadata(&object).unwrap().modified().unwrap(),
        first_mtime
    );
    env.assert_store_valid();
}

#[test]
fn a_missing_file_fails_alone_with_exit_3() {
    let env = Env::new();
    env.write("good.txt", b"good\n");
    let out = env.cmd(["missing.jpg", "good.txt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr_of(&out);
    assert_says(&err, "missing.jpg: No such file or directory");
    assert!(err.contains("1 new") && err.contains("1 failed"), "{err}");
    assert_eq!(env.manifest().len(), 1);
    env.assert_store_valid();
}

#[test]
fn special_files_named_on_the_command_line_are_refused_by_name() {
    let env = Env::new();
    let fifo = env.path().join("pipe");
    mkfifo(&fifo);
    let out = env.cmd(["pipe", "/dev/zero", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr_of(&out);
    assert_says(&err, "pipe: is a FIFO");
    assert_says(&err, "/dev/zero: is a device");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == "failed" && l["error"].is_string())
    );
    assert_eq!(json_summary(&out)["failed"], 2);
    assert!(env.manifest().is_empty());
    assert!(env.objects().is_empty());
}

#[test]
fn an_unreadable_file_fails_for_an_unprivileged_user() {
    let env = Env::new();
    let secret = env.write("secret.jpg", b"top secret");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(env.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let out = as_nobody(&env, &["secret.jpg"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "secret.jpg: Permission denied");
    env.assert_store_valid();
}

#[test]
fn no_input_on_a_terminal_or_dev_null_is_a_usage_error() {
    let env = Env::new();
    let out = env
        .cmd(Vec::<&str>::new())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_says(&stderr_of(&out), "nothing to store");
    assert!(!env.store().join("manifest.jsonl").exists());
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    env.cmd(["--no-such-flag"]).assert().code(2);
    with_stdin(env.cmd(["-", "-"]), "x").assert().code(2);
    env.write("a", b"a");
    env.cmd(["--name", "x.jpg", "a"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--name"));
}

#[test]
fn a_store_that_is_not_ours_is_refused_with_exit_1() {
    let env = Env::new();
    env.write("a.txt", b"a");
    // A folder with other things in it.
    env.write("store/holiday.jpg", b"not ours");
    env.cmd(["a.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not an ingest store"));
    assert!(!env.store().join("objects").exists());

    // A newer version of the layout.
    fs::remove_file(env.store().join("holiday.jpg")).unwrap();
    env.write(
        "store/store.json",
        br#"{"format":"ingest-store","version":2,"hash":"sha256"}"#,
    );
    env.cmd(["a.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("version 2, newer"));
    assert!(!env.store().join("objects").exists());

    // Damaged.
    env.write("store/store.json", b"{garbage");
    env.cmd(["a.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("store.json is damaged"));
}

#[test]
fn store_location_comes_from_env_then_xdg() {
    let env = Env::new();
    env.write("a.txt", b"a");
    let via_env = env.path().join("via-env");
    let mut cmd = bare_cmd();
    cmd.current_dir(env.path())
        .env("INGEST_STORE", &via_env)
        .arg("a.txt");
    ok(&mut cmd);
    assert!(via_env.join("store.json").exists());

    let xdg = env.path().join("xdg");
    let mut cmd = bare_cmd();
    cmd.current_dir(env.path())
        .env("XDG_DATA_HOME", &xdg)
        .arg("a.txt");
    ok(&mut cmd);
    assert!(xdg.join("ingest/store.json").exists());

    let home = env.path().join("home");
    let mut cmd = bare_cmd();
    cmd.current_dir(env.path()).env("HOME", &home).arg("a.txt");
    ok(&mut cmd);
    assert!(home.join(".local/share/ingest/store.json").exists());
}

#[test]
fn a_torn_last_manifest_line_is_repaired_before_the_next_append() {
    let env = Env::new();
    env.write("a.txt", b"a");
    env.write("b.txt", b"b");
    ok(&mut env.cmd(["a.txt"]));
    let mut manifest = fs::OpenOptions::new()
        .append(true)
        .open(env.store().join("manifest.jsonl"))
        .unwrap();
    manifest
        .write_all(br#"{"sha256":"abc","torn-here"#)
        .unwrap();
    drop(manifest);

    ok(&mut env.cmd(["b.txt"]));
    let text = fs::read_to_string(env.store().join("manifest.jsonl")).unwrap();
    assert!(!text.contains("torn-here"), "torn line still there: {text}");
    let names: Vec<_> = env.manifest().iter().map(|l| l["name"].clone()).collect();
    assert_eq!(names, ["a.txt", "b.txt"]);
}
