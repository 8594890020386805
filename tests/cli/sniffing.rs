//! Types sniffed from real encoder output (tests/fixtures/media, made by
//! make.sh there with ffmpeg, Pillow and the AMR codec libraries), held
//! against libmagic.

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::wait_until_drained;
use crate::util::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/media");

/// File, the type we sniff, the extension we record.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("photo.jpg", "image/jpeg", "jpg"),
    ("photo-exif.jpg", "image/jpeg", "jpg"),
    ("photo.png", "image/png", "png"),
    ("photo.gif", "image/gif", "gif"),
    ("photo.heic", "image/heic", "heic"),
    ("photo.webp", "image/webp", "webp"),
    ("clip.mp4", "video/mp4", "mp4"),
    ("clip.mov", "video/quicktime", "mov"),
    ("clip.3gp", "video/3gpp", "3gp"),
    ("clip.3g2", "video/3gpp2", "3g2"),
    ("voice.amr", "audio/amr", "amr"),
    ("voice.awb", "audio/amr-wb", "awb"),
    ("voice.m4a", "audio/mp4", "m4a"),
    ("voice.mp3", "audio/mpeg", "mp3"),
    ("voice-noid3.mp3", "audio/mpeg", "mp3"),
    ("voice.ogg", "audio/ogg", "ogg"),
    ("clip.ogv", "video/ogg", "ogv"),
    ("scan.pdf", "application/pdf", "pdf"),
];

/// Where libmagic names the same type differently.
fn libmagic_name(ours: &str) -> &str {
    match ours {
        "audio/mp4" => "audio/x-m4a",
        // libmagic does not tell AMR-WB from AMR.
        "audio/amr-wb" => "audio/amr",
        other => other,
    }
}

/// Copies each fixture to a name without an extension, so only the bytes
/// can tell the type.
#[test]
fn phone_and_camera_formats_are_sniffed_from_their_bytes() {
    let env = Env::new();
    let mut args = Vec::new();
    for (i, (file, _, _)) in EXPECTED.iter().enumerate() {
        let bytes = fs::read(format!("{FIXTURES}/{file}")).unwrap();
        env.write(format!("input{i}"), &bytes);
        args.push(format!("input{i}"));
    }
    let out = ok(env.cmd(&args).arg("--json"));
    let lines = json_lines(&out);
    for ((file, mime, ext), line) in EXPECTED.iter().zip(&lines) {
        assert_eq!(
            (
                line["mime"].as_str().unwrap(),
                line["ext"].as_str().unwrap()
            ),
            (*mime, *ext),
            "{file}"
        );
    }
    assert_eq!(lines.len(), EXPECTED.len());
}

#[test]
fn libmagic_agrees_on_every_fixture() {
    for (file, mime, _) in EXPECTED {
        let out = Command::new("file")
            .args(["-b", "--mime-type"])
            .arg(format!("{FIXTURES}/{file}"))
            .output()
            .expect("libmagic's `file` must be installed (.ci/run installs it)");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            libmagic_name(mime),
            "{file}"
        );
    }
}

#[test]
fn unknown_bytes_fall_back_to_the_extension_then_octet_stream() {
    let env = Env::new();
    env.write("notes.txt", b"just some notes\n");
    env.write("README", b"no extension here\n");
    let out = ok(env.cmd(["notes.txt", "README", "--json"]));
    let lines = json_lines(&out);
    assert_eq!(
        (lines[0]["mime"].as_str(), lines[0]["ext"].as_str()),
        (Some("text/plain"), Some("txt"))
    );
    assert_eq!(
        (lines[1]["mime"].as_str(), lines[1]["ext"].as_str()),
        (Some("application/octet-stream"), Some(""))
    );
}

#[test]
fn a_png_named_jpg_is_recorded_as_png() {
    let env = Env::new();
    env.write(
        "holiday.jpg",
        &fs::read(format!("{FIXTURES}/photo.png")).unwrap(),
    );
    let out = ok(env.cmd(["holiday.jpg", "--json"]));
    let line = &json_lines(&out)[0];
    assert_eq!(
        (line["mime"].as_str(), line["ext"].as_str()),
        (Some("image/png"), Some("png"))
    );
    assert_eq!(line["name"], "holiday.jpg");
}

/// A pipe that hands over one byte per read: each byte is written only once
/// the reader has taken the one before (FIONREAD on the pipe reads 0), so
/// the sniffer must gather its prefix across many reads.
#[test]
fn stdin_delivered_a_byte_per_read_is_still_sniffed() {
    let env = Env::new();
    let bytes = fs::read(format!("{FIXTURES}/clip.mp4")).unwrap();
    let mut child = env
        .cmd(["--json", "--name", "clip", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for byte in &bytes[..64] {
        stdin.write_all(std::slice::from_ref(byte)).unwrap();
        wait_until_drained(&stdin);
    }
    stdin.write_all(&bytes[64..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let line = &json_lines(&out)[0];
    assert_eq!(line["mime"], "video/mp4");
    assert_eq!(line["sha256"], sha256_hex(&bytes));
}
