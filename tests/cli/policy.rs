//! Admission policy, end to end: every rejection leaves the store exactly
//! as it was.

use std::fs;
use std::io::Write;
use std::process::Stdio;

use crate::util::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/media");

fn fixture(name: &str) -> Vec<u8> {
    fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

#[test]
fn max_size_rejects_larger_inputs_and_keeps_the_store_as_it_was() {
    let env = Env::seeded();
    env.write("big.bin", &noise(2 << 20, 1));
    env.write("small.bin", &noise(1000, 2));
    let before = env.snapshot();
    let out = env
        .cmd(["--json", "--max-size", "1M", "big.bin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let line = &json_lines(&out)[0];
    assert_eq!(
        (line["status"].as_str(), line["reason"].as_str()),
        (Some("rejected"), Some("too_large"))
    );
    assert_says(
        &stderr_of(&out),
        "big.bin: rejected: larger than --max-size 1.00 MiB",
    );
    assert_eq!(json_summary(&out)["rejected"], 1);
    assert_eq!(env.snapshot(), before);
    ok(env.cmd(["--max-size", "1M", "small.bin"]));
}

#[test]
fn max_size_stops_reading_a_1gib_stream_after_about_1mib() {
    let env = Env::seeded();
    let before = env.snapshot();
    let mut child = env
        .cmd(["--json", "--max-size", "1M", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let block = noise(64 << 10, 3);
    let mut written = 0usize;
    while written < 1 << 30 {
        match stdin.write(&block) {
            Ok(n) => written += n,
            Err(_) => break, // ingest closed the pipe: it stopped reading.
        }
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out)[0]["reason"], "too_large");
    // The limit, one read buffer, and what the pipe held.
    assert!(
        written < 2 << 20,
        "wrote {written} bytes into a stream cut at 1 MiB"
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn a_denied_type_costs_only_the_sniffing_prefix_of_a_1gib_file() {
    let env = Env::seeded();
    let path = env.write("huge.png", &fixture("photo.png"));
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 30)
        .unwrap(); // sparse
    let before = env.snapshot();
    let (out, read) = env.bytes_read_by(&["--deny", "image/*", "huge.png"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_says(
        &stderr_of(&out),
        "rejected: type image/png is denied (--deny image/*)",
    );
    assert!(read < 1 << 20, "read {read} bytes of a denied 1 GiB file");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn allow_admits_only_matching_types_and_deny_wins() {
    let env = Env::seeded();
    env.write("a.png", &fixture("photo.png"));
    env.write("b.mp4", &fixture("clip.mp4"));
    env.write("c.gif", &fixture("photo.gif"));
    env.write("d.txt", b"text\n");
    let rules = ["--json", "--allow", "image/*", "--deny", "image/gif"];
    let before = env.snapshot();
    let out = env
        .cmd(rules)
        .args(["b.mp4", "c.gif", "d.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let lines = json_lines(&out);
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == "rejected" && l["reason"] == "type_denied"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 3);
    assert_says(
        &stderr_of(&out),
        "type video/mp4 is not allowed (--allow image/*)",
    );
    assert_says(&stderr_of(&out), "type text/plain is not allowed");
    assert_eq!(env.snapshot(), before);

    let out = ok(env.cmd(rules).arg("a.png"));
    assert_eq!(json_lines(&out)[0]["status"], "new");
    env.assert_store_valid();
}

#[test]
fn declared_type_is_kept_when_the_bytes_disagree() {
    let env = Env::new();
    let out = with_stdin(
        env.cmd([
            "--json",
            "--name",
            "IMG_1.jpg",
            "--content-type",
            "image/jpeg",
            "-",
        ]),
        fixture("photo.png"),
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    let line = &json_lines(&out)[0];
    assert_eq!(line["mime"], "image/png");
    assert_eq!(line["declared_mime"], "image/jpeg");
    assert_eq!(env.manifest()[0]["declared_mime"], "image/jpeg");
    let err = stderr_of(&out);
    assert_says(&err, "declared image/jpeg, but the bytes are image/png");
    assert_says(&err, "named .jpg, but the bytes are image/png");

    // Agreeing, or unknown bytes: the declared type is the type.
    let out = with_stdin(
        env.cmd(["--json", "--content-type", "image/png", "-"]),
        fixture("photo.png"),
    )
    .output()
    .unwrap();
    assert!(json_lines(&out)[0].get("declared_mime").is_none());
    let out = with_stdin(
        env.cmd(["--json", "--content-type", "text/x-vcard", "-"]),
        "BEGIN:VCARD\n",
    )
    .output()
    .unwrap();
    assert_eq!(json_lines(&out)[0]["mime"], "text/x-vcard");
    assert!(
        stderr_of(&out).is_empty() || !stderr_of(&out).contains("warning"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn expected_sha256_must_match() {
    let env = Env::seeded();
    let data = noise(5000, 4);
    env.write("x.bin", &data);
    let before = env.snapshot();
    let wrong = sha256_hex(b"something else");
    let out = env
        .cmd(["--json", "--sha256", &wrong, "x.bin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let line = &json_lines(&out)[0];
    assert_eq!(line["reason"], "hash_mismatch");
    let error = line["error"].as_str().unwrap();
    assert!(
        error.contains(&wrong) && error.contains(&sha256_hex(&data)),
        "{error}"
    );
    assert_eq!(env.snapshot(), before);

    ok(env.cmd(["--sha256", &sha256_hex(&data).to_uppercase(), "x.bin"]));
    env.cmd(["--sha256", &wrong, "x.bin", "seed.txt"])
        .output()
        .map(|o| assert_eq!(o.status.code(), Some(2)))
        .unwrap();
}

#[test]
fn store_config_sets_defaults_that_flags_override() {
    let env = Env::seeded();
    fs::write(
        env.store().join("config.json"),
        r#"{"max_size": "4K", "deny": ["video/*"]}"#,
    )
    .unwrap();
    env.write("eight-k.bin", &noise(8192, 5));
    env.write("clip.mp4", &fixture("clip.mp4"));
    let out = env
        .cmd(["--json", "eight-k.bin", "clip.mp4"])
        .output()
        .unwrap();
    let reasons: Vec<_> = json_lines(&out)
        .iter()
        .map(|l| l["reason"].clone())
        .collect();
    assert_eq!(reasons, ["too_large", "type_denied"]);
    // The messages name what to change: the config's keys, not flags.
    let err = stderr_of(&out);
    assert_says(&err, "larger than max_size in config.json 4.00 KiB");
    assert_says(&err, "is denied (deny in config.json video/*)");
    let out = env
        .cmd([
            "--json",
            "--max-size",
            "1M",
            "--deny",
            "audio/*",
            "eight-k.bin",
            "clip.mp4",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));

    fs::write(env.store().join("config.json"), r#"{"max_sise": "1K"}"#).unwrap();
    let out = env.cmd(["eight-k.bin"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_says(&stderr_of(&out), "config.json is not valid");
}

#[test]
fn bad_policy_arguments_are_usage_errors() {
    let env = Env::new();
    env.write("a", b"a");
    for args in [
        ["--max-size", "12X"],
        ["--allow", "image"],
        ["--sha256", "abc"],
        ["--clamd", "tcp://nohost"],
    ] {
        let out = env.cmd(args).arg("a").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }
}
