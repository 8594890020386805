//! The web page of `ingest serve` in a real browser (tests/browser/page.py:
//! Debian's Chromium, headless, through Selenium and chromedriver).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::served::{Served, token_add};
use crate::util::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/media");

/// The Python with Selenium that .ci/setup makes.
fn selenium_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-venv/bin/python");
    assert!(
        python.exists()
            && Path::new("/usr/bin/chromium").exists()
            && Path::new("/usr/bin/chromedriver").exists(),
        "the browser tests need Chromium, chromedriver and Selenium: run .ci/setup"
    );
    python
}

/// Runs tests/browser/SCRIPT with ARGS under the Selenium Python; the
/// test fails with the script's output and the server's log unless it
/// succeeds.
fn run_browser(script: &str, args: &[&OsStr], server: &Served) {
    let out = Command::new(selenium_python())
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/browser")
                .join(script),
        )
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the browser test {script} failed:\n{}\n{}\nserver: {}",
        stdout_of(&out),
        stderr_of(&out),
        server.log()
    );
}

#[test]
fn the_page_signs_in_uploads_browses_and_downloads_in_a_real_browser() {
    // Fails at once, saying what to install, when the browser is missing.
    selenium_python();
    let env = Env::new();
    let files = env.path().join("upload");
    std::fs::create_dir_all(&files).unwrap();
    for name in [
        "photo.png",
        "photo.jpg",
        "photo-exif-turned.jpg",
        "photo.gif",
        "photo.webp",
        "photo.heic",
        "clip.mp4",
        "clip.ogv",
        "voice.ogg",
        "scan.pdf",
    ] {
        std::fs::copy(Path::new(FIXTURES).join(name), files.join(name)).unwrap();
    }
    // A name that would run as markup, on bytes of a picture of its own.
    let mut hostile = std::fs::read(Path::new(FIXTURES).join("photo.jpg")).unwrap();
    hostile.extend_from_slice(b"\0hostile");
    std::fs::write(files.join("<img src=x onerror=alert(1)>.jpg"), hostile).unwrap();
    std::fs::write(files.join("too-big.bin"), noise(3 << 20, 1)).unwrap();
    // Bytes on the store's block list.
    let blocked = noise(4000, 2);
    std::fs::write(files.join("blocked.bin"), &blocked).unwrap();
    ok(env.cmd(["-q", "block", "add", &sha256_hex(&blocked)]));
    // The same bytes as photo.png, under another name.
    std::fs::copy(files.join("photo.png"), files.join("photo-again.png")).unwrap();

    // A picture a friend sent, from a phone backup: the page says who and when.
    let mut sent = std::fs::read(Path::new(FIXTURES).join("photo.jpg")).unwrap();
    sent.extend_from_slice(b"\0sent");
    let message = crate::harness::mms_xml::mms(
        1_575_000_000_000,
        "+15555550123",
        &[crate::harness::mms_xml::part(
            "image/jpeg",
            "IMG_0042.jpg",
            &sent,
        )],
    );
    let backup = env.write("backup.xml", &crate::harness::mms_xml::backup(&[message]));
    ok(env.cmd([std::ffi::OsStr::new("mms"), backup.as_os_str()]));

    let server = Served::start(&env, &["--max-size", "2M"]);
    let reader = token_add(&env, "viewer", true);
    let deleter = {
        let out = ok(env.cmd(["token", "add", "cleaner", "--scope", "delete"]));
        stdout_of(&out).trim().to_owned()
    };
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/page-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let _ = std::fs::remove_dir_all(shots.join("downloads"));
    run_browser(
        "page.py",
        &[
            OsStr::new(&server.url("/")),
            OsStr::new(&server.token),
            OsStr::new(&reader),
            OsStr::new(&files),
            OsStr::new(&shots),
            OsStr::new(&deleter),
        ],
        &server,
    );
    assert!(shots.join("grid.png").exists() && shots.join("item.png").exists());
    // Every file but the rejected one is stored, once, beside the MMS one
    // (scan.pdf went to the trash and came back).
    assert_eq!(env.manifest().len(), 13);
    let out = ok(env.cmd(["--json", "trash", "ls"]));
    assert!(stdout_of(&out).is_empty(), "{}", stdout_of(&out));
    assert!(server.stop());
    ok(env.cmd(["verify"]));
}

/// Large files go up through tus from the page: paused and resumed, a lost
/// connection retried, a reloaded tab going on where it stopped, a
/// cancelled one gone from the server.
#[test]
fn the_page_resumes_large_uploads_in_a_real_browser() {
    // Fails at once, saying what to install, when the browser is missing.
    selenium_python();
    let env = Env::new();
    let files = env.path().join("upload");
    std::fs::create_dir_all(&files).unwrap();
    let names = ["paused.bin", "offline.bin", "reloaded.bin", "cancelled.bin"];
    for (i, name) in names.iter().enumerate() {
        std::fs::write(files.join(name), noise(12 << 20, 1001 + 2 * i as u64)).unwrap();
    }
    let server = Served::start(&env, &["-v"]);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/page-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    run_browser(
        "resume.py",
        &[
            OsStr::new(&server.url("/")),
            OsStr::new(&server.token),
            OsStr::new(&files),
            OsStr::new(&shots),
        ],
        &server,
    );
    assert!(server.stop());
    let stored: std::collections::HashMap<String, String> = env
        .manifest()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for name in &names[..3] {
        assert_eq!(
            stored.get(*name),
            Some(&sha256_file(&files.join(name))),
            "{name}"
        );
    }
    assert!(!stored.contains_key("cancelled.bin"));
    // Nothing unfinished is left: what stays of the others is their outcome.
    let out = ok(env.cmd(["--json", "uploads", "ls"]));
    for partial in json_lines(&out) {
        assert!(partial["stored"].is_string(), "{partial}");
    }
    env.assert_store_valid();
}

/// Uppy's tus plugin, from its npm package, in the real Chromium, on a
/// page of another origin (allowed with --cors-origin): paused, resumed,
/// cut off by the browser going offline, and ending with the right object.
#[test]
fn uppys_tus_plugin_uploads_pauses_and_resumes_from_another_origin() {
    // Fails at once, saying what to install, when the browser is missing.
    selenium_python();
    let dist =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tus-clients/node_modules/uppy/dist");
    assert!(
        dist.join("uppy.min.js").exists(),
        "the Uppy test needs the uppy package: run .ci/setup"
    );
    let env = Env::new();
    let bytes = noise(12 << 20, 2024);
    let file = env.write("from-uppy.bin", &bytes);
    let port = crate::harness::s3::free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let server = Served::start(&env, &["--cors-origin", &origin]);
    run_browser(
        "uppy.py",
        &[
            OsStr::new(&port.to_string()),
            OsStr::new(&server.url("/v1/tus/")),
            OsStr::new(&server.token),
            OsStr::new(&file),
            OsStr::new(&dist),
        ],
        &server,
    );
    assert!(server.stop());
    let entry = env
        .manifest()
        .into_iter()
        .find(|e| e["name"] == "from-uppy.bin")
        .expect("Uppy's upload is not recorded");
    assert_eq!(entry["sha256"], sha256_hex(&bytes));
    env.assert_store_valid();
}

/// A whole folder chosen on the page, or dropped on it: each file is
/// stored with its path in the folder (the big one through tus, the small
/// ones by PUT), and `export --tree` gives the folder back.
#[test]
fn a_folder_chosen_on_the_page_keeps_its_tree() {
    folder_on_the_page_keeps_its_tree("choose");
}

#[test]
fn a_folder_dropped_on_the_page_keeps_its_tree() {
    folder_on_the_page_keeps_its_tree("drop");
}

fn folder_on_the_page_keeps_its_tree(how: &str) {
    // Fails at once, saying what to install, when the browser is missing.
    selenium_python();
    let env = Env::new();
    let album = env.path().join("Trip 2024");
    std::fs::create_dir_all(album.join("day 1")).unwrap();
    std::fs::create_dir_all(album.join("day 2")).unwrap();
    std::fs::write(album.join("day 1/IMG_0001.jpg"), noise(3000, 301)).unwrap();
    std::fs::write(album.join("day 2/IMG_0001.jpg"), noise(3000, 303)).unwrap();
    std::fs::write(album.join("day 2/video.bin"), noise(5 << 20, 305)).unwrap();
    let server = Served::start(&env, &[]);
    run_browser(
        "folder.py",
        &[
            OsStr::new(&server.url("/")),
            OsStr::new(&server.token),
            OsStr::new(&album),
            OsStr::new("3"),
            OsStr::new(how),
        ],
        &server,
    );
    assert!(server.stop());
    let mut paths: Vec<String> = env
        .manifest()
        .iter()
        .map(|e| e["path"].as_str().unwrap_or("").to_owned())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "Trip 2024/day 1/IMG_0001.jpg",
            "Trip 2024/day 2/IMG_0001.jpg",
            "Trip 2024/day 2/video.bin"
        ]
    );
    let dest = env.path().join("dest");
    ok(env.cmd(["-q", "export", "--tree"]).arg(&dest));
    assert_same_tree(&dest.join("Trip 2024"), &album, how);
}
