//! Virus scanning against a real clamd (Debian's clamav-daemon), started
//! per test on a unix socket in a temp folder, with a database holding only
//! a body signature for the EICAR test string that the test writes.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Stdio;

use crate::harness::clamd::*;
use crate::util::*;

fn scan_args<'a>(clamd: &'a Path, extra: &[&'a str]) -> Vec<String> {
    let mut args = vec![
        "--json".to_owned(),
        "--clamd".to_owned(),
        clamd.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn eicar_alone_is_rejected_as_infected() {
    let clamd = Clamd::start("64M");
    let env = Env::seeded();
    env.write("eicar.com", &eicar());
    let before = env.snapshot();
    let out = env
        .cmd(scan_args(&clamd.socket(), &["eicar.com"]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let line = &json_lines(&out)[0];
    assert_eq!(
        (line["status"].as_str(), line["reason"].as_str()),
        (Some("rejected"), Some("infected"))
    );
    assert!(
        line["error"].as_str().unwrap().contains("Test.EICAR"),
        "{line}"
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn eicar_past_32kib_across_a_read_boundary_is_found_in_files_and_pipes() {
    let clamd = Clamd::start("64M");
    let env = Env::seeded();
    let mut data = noise(200_000, 1);
    // Straddles the second 32 KiB read: 20 bytes before 65536, the rest after.
    let at = 65_536 - 20;
    data[at..at + eicar().len()].copy_from_slice(&eicar());
    env.write("holiday.jpg", &data);
    let before = env.snapshot();
    let out = env
        .cmd(scan_args(&clamd.socket(), &["holiday.jpg"]))
        .output()
        .unwrap();
    assert_eq!(
        json_lines(&out)[0]["reason"],
        "infected",
        "{}",
        stderr_of(&out)
    );

    // The same bytes through a pipe, written in odd-sized pieces.
    let mut child = env
        .cmd(scan_args(&clamd.socket(), &["-"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for piece in data.chunks(7_777) {
        stdin.write_all(piece).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        json_lines(&out)[0]["reason"],
        "infected",
        "{}",
        stderr_of(&out)
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn clean_data_is_stored_as_scanned() {
    let clamd = Clamd::start("64M");
    let env = Env::new();
    env.write("clean.bin", &noise(300_000, 2));
    let out = ok(env.cmd(scan_args(&clamd.socket(), &["clean.bin"])));
    assert_eq!(json_lines(&out)[0]["scanned"], true);
    assert_eq!(env.manifest()[0]["scanned"], true);
    env.assert_store_valid();
}

#[test]
fn a_stream_over_clamds_limit_fails_closed_or_is_stored_unscanned_when_open() {
    let clamd = Clamd::start("1M");
    let env = Env::seeded();
    env.write("big.bin", &noise(3 << 20, 3));
    let before = env.snapshot();
    let out = env
        .cmd(scan_args(&clamd.socket(), &["big.bin"]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let line = &json_lines(&out)[0];
    assert_eq!(line["status"], "failed");
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .contains("size limit exceeded"),
        "{line}"
    );
    assert_eq!(env.snapshot(), before);

    let out = ok(env.cmd(scan_args(&clamd.socket(), &["--scan-fail-open", "big.bin"])));
    assert_eq!(json_lines(&out)[0]["scanned"], false);
    assert_says(&stderr_of(&out), "stored unscanned");
    env.assert_store_valid();
}

#[test]
fn a_stopped_clamd_fails_closed_or_is_stored_unscanned_when_open() {
    let mut clamd = Clamd::start("64M");
    clamd.stop();
    let env = Env::seeded();
    env.write("photo.bin", &noise(1000, 4));
    let before = env.snapshot();
    let out = env
        .cmd(scan_args(&clamd.socket(), &["photo.bin"]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_says(&stderr_of(&out), "cannot reach clamd at");
    assert_eq!(env.snapshot(), before);

    let out = ok(env.cmd(scan_args(
        &clamd.socket(),
        &["--scan-fail-open", "photo.bin"],
    )));
    assert_eq!(json_lines(&out)[0]["scanned"], false);
    assert_says(&stderr_of(&out), "stored unscanned");
}

/// A server that accepts and then says nothing: the scan must time out,
/// for a small input (waiting for the reply) and a large one (sending).
#[test]
fn a_clamd_that_never_answers_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("silent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let env = Env::seeded();
    env.write("small.bin", &noise(1000, 5));
    env.write("large.bin", &noise(8 << 20, 6));
    let before = env.snapshot();
    for file in ["small.bin", "large.bin"] {
        let out = env
            .cmd(scan_args(&socket, &["--scan-timeout", "0.5", file]))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{file}");
        let line = &json_lines(&out)[0];
        assert_eq!(line["status"], "failed", "{file}");
        let error = line["error"].as_str().unwrap();
        assert!(error.contains("no answer within 0.5 s"), "{file}: {error}");
    }
    assert_eq!(env.snapshot(), before);
}
