//! `ingest mms`: SMS Backup & Restore backups, written here in the app's
//! real format (prolog, comment, stylesheet, `<sms>` beside `<mms>`, SMIL
//! parts, `null` values), one quirk per test, with real encoder output
//! (tests/fixtures/media) as attachments.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::mms_xml::*;
use crate::harness::timing::{spawn_fed, under_time, wait_with_peak_rss};
use crate::util::*;

fn media(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/media/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn text_part(text: &str) -> String {
    format!(
        "<part seq=\"0\" ct=\"text/plain\" name=\"null\" chset=\"106\" cd=\"null\" fn=\"null\" cid=\"&lt;text_0&gt;\" cl=\"text_0.txt\" ctt_s=\"null\" ctt_t=\"null\" text=\"{text}\" />"
    )
}

/// The byte offset of the `n`th (0-based) `<part` holding `needle`.
fn offset_of(xml: &[u8], needle: &str) -> u64 {
    let text = String::from_utf8_lossy(xml);
    let at = text.find(needle).expect("needle in backup");
    text[..at].rfind("<part").unwrap() as u64
}

fn mms_cmd(env: &Env, args: &[&str]) -> std::process::Command {
    let mut cmd = env.cmd(["mms"]);
    cmd.args(args);
    cmd
}

fn origin(entry: &Value) -> &Value {
    &entry["origin"]
}

#[test]
fn each_attachment_is_stored_with_its_origin_and_smil_and_text_are_skipped() {
    let env = Env::new();
    let (jpg, png) = (media("photo.jpg"), media("photo.png"));
    let xml = backup(&[
        mms(
            1414936528000,
            "+15555550000",
            &[text_part("Look!"), part("image/png", "duck.png", &png)],
        ),
        mms(
            1414936600000,
            "+15555550001~+15555550002",
            &[part("image/jpeg", "IMG_0001.jpg", &jpg)],
        ),
    ]);
    env.write("sms-2026.xml", &xml);
    let out = ok(mms_cmd(&env, &["sms-2026.xml"]));
    assert_eq!(
        stdout_of(&out),
        format!(
            "{}  duck.png\n{}  IMG_0001.jpg\n",
            sha256_hex(&png),
            sha256_hex(&jpg)
        )
    );
    assert_eq!(std::fs::read(env.object(&sha256_hex(&png))).unwrap(), png);
    assert_eq!(std::fs::read(env.object(&sha256_hex(&jpg))).unwrap(), jpg);
    let manifest = env.manifest();
    assert_eq!(manifest.len(), 2);
    let backup_path = env.path().canonicalize().unwrap().join("sms-2026.xml");
    let duck = &manifest[0];
    assert_eq!(duck["mime"], "image/png");
    assert_eq!(duck["source"], backup_path.to_str().unwrap());
    let o = origin(duck);
    assert_eq!(o["kind"], "mms");
    assert_eq!(o["backup"], backup_path.to_str().unwrap());
    assert_eq!(o["offset"], offset_of(&xml, "duck.png"));
    assert_eq!(o["date"], 1414936528000u64);
    assert_eq!(o["address"], "+15555550000");
    assert_eq!(o["msg_box"], 1);
    assert_eq!(o["m_id"], "mid-1414936528000");
    assert_eq!(o["part"], 2, "after the SMIL and the text part");
    assert_eq!(o["seq"], "0");
    assert_eq!(o["ct"], "image/png");
    assert_eq!(origin(&manifest[1])["address"], "+15555550001~+15555550002");
    assert_eq!(origin(&manifest[1])["part"], 1);
    env.assert_store_valid();
}

#[test]
fn attribute_order_quotes_escapes_and_null_names_are_handled() {
    let env = Env::new();
    let (png, gif, webp) = (media("photo.png"), media("photo.gif"), media("photo.webp"));
    // `data` first, single quotes, base64 wrapped with &#10; and newlines.
    let wrapped: String = BASE64
        .encode(&png)
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("&#10;\n");
    let data_first = format!(
        "<part data='{wrapped}' seq='0' ct='image/png' name='smile &#55357;&#56832;.png' cl='null' />"
    );
    // Every name `null`: named after the message and the part.
    let nameless = format!(
        "<part seq=\"0\" ct=\"image/gif\" name=\"null\" fn=\"null\" cl=\"null\" cid=\"null\" text=\"null\" data=\"{}\" />",
        BASE64.encode(&gif)
    );
    // A name that tries to leave the folder, and a control character.
    let climbing = format!(
        "<part seq=\"0\" ct=\"image/webp\" name=\"null\" fn=\"../../etc/x&#7;y.webp\" data=\"{}\" />",
        BASE64.encode(&webp)
    );
    let xml = backup(&[mms(
        1700000000123,
        "+15555550000",
        &[data_first, nameless, climbing],
    )]);
    env.write("b.xml", &xml);
    let out = ok(mms_cmd(&env, &["b.xml"]));
    let names: Vec<_> = env
        .manifest()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["smile 😀.png", "mms-1700000000123-2.gif", "xy.webp"],
        "{}",
        stderr_of(&out)
    );
    for bytes in [&png, &gif, &webp] {
        assert_eq!(
            std::fs::read(env.object(&sha256_hex(bytes))).unwrap(),
            *bytes
        );
    }
    env.assert_store_valid();
}

#[test]
fn empty_data_and_call_logs_store_nothing_and_other_roots_fail() {
    let env = Env::new();
    let empty = "<part seq=\"0\" ct=\"image/jpeg\" name=\"IMG_1.jpg\" data=\"\" />".to_owned();
    env.write("empty.xml", &backup(&[mms(1, "+1", &[empty])]));
    let out = ok(mms_cmd(&env, &["empty.xml"]));
    assert_eq!(stdout_of(&out), "");
    assert!(env.objects().is_empty());

    let calls = format!(
        "{PROLOG}<calls count=\"1\">\n  <call number=\"+15555550000\" duration=\"12\" date=\"1\" type=\"1\" />\n</calls>\n"
    );
    env.write("calls.xml", calls.as_bytes());
    let out = ok(mms_cmd(&env, &["calls.xml"]));
    assert_says(&stderr_of(&out), "call log");

    env.write("page.xml", b"<?xml version='1.0'?><html><body/></html>");
    let out = mms_cmd(&env, &["page.xml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_says(&stderr_of(&out), "page.xml");
    assert_says(&stderr_of(&out), "<html>");
    assert!(env.objects().is_empty());
}

#[test]
fn gzip_backups_and_standard_input_are_read_as_streams() {
    let env = Env::new();
    let jpg = media("photo.jpg");
    let xml = backup(&[mms(
        5,
        "+15555550000",
        &[part("image/jpeg", "zipped.jpg", &jpg)],
    )]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&xml).unwrap();
    let gz = gz.finish().unwrap();
    env.write("renamed.bin", &gz);
    ok(mms_cmd(&env, &["renamed.bin"]));
    assert_eq!(std::fs::read(env.object(&sha256_hex(&jpg))).unwrap(), jpg);
    assert_eq!(
        origin(&env.manifest()[0])["offset"],
        offset_of(&xml, "zipped.jpg")
    );

    let other = Env::new();
    let out = with_stdin(mms_cmd(&other, &["-"]), gz).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let entry = &other.manifest()[0];
    assert_eq!(entry["source"], "-");
    assert_eq!(origin(entry)["backup"], "-");
    assert_eq!(entry["sha256"], sha256_hex(&jpg));
}

#[test]
fn the_apps_zip_export_is_refused_with_a_hint() {
    let env = Env::new();
    env.write(
        "export.zip",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest of a zip",
    );
    let out = mms_cmd(&env, &["export.zip"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_says(&stderr_of(&out), "export.zip");
    assert_says(&stderr_of(&out), "unzip");
}

#[test]
fn a_doctype_is_refused() {
    let env = Env::new();
    let mut xml = b"<?xml version='1.0'?>\n<!DOCTYPE smses [<!ENTITY a \"aaaa\">]>\n".to_vec();
    xml.extend_from_slice(
        &backup(&[mms(
            1,
            "+1",
            &[part("image/png", "a.png", &media("photo.png"))],
        )])[PROLOG.len()..],
    );
    env.write("evil.xml", &xml);
    let out = mms_cmd(&env, &["evil.xml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_says(&stderr_of(&out), "DOCTYPE");
    assert!(env.objects().is_empty());
}

/// Three messages, one attachment each.
fn three_messages() -> (Vec<u8>, [Vec<u8>; 3]) {
    let files = [media("photo.jpg"), media("photo.png"), media("photo.gif")];
    let xml = backup(&[
        mms(
            100,
            "+15555550000",
            &[part("image/jpeg", "one.jpg", &files[0])],
        ),
        mms(
            200,
            "+15555550000",
            &[part("image/png", "two.png", &files[1])],
        ),
        mms(
            300,
            "+15555550000",
            &[part("image/gif", "three.gif", &files[2])],
        ),
    ]);
    (xml, files)
}

#[test]
fn a_cut_backup_keeps_every_complete_attachment_then_the_full_one_adds_the_rest() {
    let (xml, files) = three_messages();
    let second = offset_of(&xml, "two.png") as usize;
    let data = second
        + String::from_utf8_lossy(&xml[second..])
            .find("data=\"")
            .unwrap();
    let cuts = [
        ("inside a tag", second + 20),
        ("inside a data value", data + 100),
    ];
    for (what, cut) in cuts {
        let env = Env::new();
        env.write("cut.xml", &xml[..cut]);
        let out = mms_cmd(&env, &["cut.xml"]).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{what}");
        let err = stderr_of(&out);
        assert!(
            err.contains("cut.xml") && err.contains(&format!("byte {cut}")),
            "{what}: {err}"
        );
        assert!(env.tmp_entries().is_empty(), "{what}: a temp file was left");
        let stored: Vec<_> = env.manifest().iter().map(|e| e["sha256"].clone()).collect();
        assert_eq!(stored, [sha256_hex(&files[0])], "{what}: {err}");
        env.assert_store_valid();

        env.write("full.xml", &xml);
        ok(mms_cmd(&env, &["full.xml"]));
        let manifest = env.manifest();
        assert_eq!(manifest.len(), 3, "{what}: only the missing ones are added");
        for (entry, bytes) in manifest.iter().zip(&files) {
            assert_eq!(entry["sha256"], sha256_hex(bytes));
        }
    }
}

#[test]
fn corrupt_base64_fails_that_part_only() {
    let env = Env::new();
    let (jpg, png) = (media("photo.jpg"), media("photo.png"));
    let bad =
        "<part seq=\"0\" ct=\"image/png\" name=\"bad.png\" data=\"iVBORw0KGgo*AAAANSUhEUg==\" />"
            .to_owned();
    let xml = backup(&[mms(
        7,
        "+15555550000",
        &[
            part("image/jpeg", "a.jpg", &jpg),
            bad,
            part("image/png", "b.png", &png),
        ],
    )]);
    env.write("b.xml", &xml);
    let out = mms_cmd(&env, &["b.xml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr_of(&out);
    let at = offset_of(&xml, "bad.png");
    assert!(
        err.contains(&format!("b.xml: part at byte {at}")) && err.contains("base64"),
        "{err}"
    );
    let stored: Vec<_> = env.manifest().iter().map(|e| e["name"].clone()).collect();
    assert_eq!(stored, ["a.jpg", "b.png"]);
    assert!(env.tmp_entries().is_empty());
    env.assert_store_valid();
}

#[test]
fn reruns_and_renamed_copies_append_nothing_and_a_shared_image_is_one_object() {
    let env = Env::new();
    let png = media("photo.png");
    // The same picture forwarded in two messages.
    let xml = backup(&[
        mms(100, "+15555550000", &[part("image/png", "a.png", &png)]),
        mms(200, "+15555550001", &[part("image/png", "a.png", &png)]),
    ]);
    env.write("sms-monday.xml", &xml);
    ok(mms_cmd(&env, &["sms-monday.xml"]));
    assert_eq!(env.manifest().len(), 2);
    assert_eq!(env.objects().len(), 1);
    let before = env.manifest_bytes();
    ok(mms_cmd(&env, &["sms-monday.xml"]));
    env.write("sms-tuesday.xml", &xml);
    let out = ok(mms_cmd(&env, &["--json", "sms-tuesday.xml"]));
    assert_eq!(env.manifest_bytes(), before);
    let statuses: Vec<_> = json_lines(&out)
        .iter()
        .map(|l| l["status"].clone())
        .collect();
    assert_eq!(statuses, ["unchanged", "unchanged"]);
}

#[test]
fn json_lines_carry_status_fields_and_origin() {
    let env = Env::new();
    let png = media("photo.png");
    let xml = backup(&[mms(
        100,
        "+15555550000",
        &[part("image/png", "a.png", &png)],
    )]);
    env.write("b.xml", &xml);
    let out = ok(mms_cmd(&env, &["--json", "b.xml"]));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["status"], "new");
    assert_eq!(lines[0]["sha256"], sha256_hex(&png));
    assert_eq!(lines[0]["name"], "a.png");
    assert_eq!(lines[0]["origin"]["date"], 100);
    assert_eq!(json_summary(&out)["new"]["count"], 1);
}

#[test]
fn the_admission_policy_judges_each_attachment_with_its_ct_declared() {
    let env = Env::new();
    let (jpg, png, gif) = (media("photo.jpg"), media("photo.png"), media("photo.gif"));
    let xml = backup(&[mms(
        9,
        "+15555550000",
        &[
            part("image/jpeg", "fine.jpg", &jpg),
            part("image/gif", "denied.gif", &gif),
            // The phone says JPEG; the bytes are PNG.
            part("image/jpeg", "liar.jpg", &png),
        ],
    )]);
    env.write("b.xml", &xml);
    let out = mms_cmd(&env, &["--deny", "image/gif", "b.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_says(&stderr_of(&out), "image/gif");
    let manifest = env.manifest();
    let names: Vec<_> = manifest.iter().map(|e| e["name"].clone()).collect();
    assert_eq!(names, ["fine.jpg", "liar.jpg"]);
    assert_eq!(manifest[1]["mime"], "image/png");
    assert_eq!(manifest[1]["declared_mime"], "image/jpeg");

    let small = Env::new();
    small.write("b.xml", &xml);
    let out = mms_cmd(&small, &["--max-size", "1", "b.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(small.objects().is_empty());
    assert!(small.tmp_entries().is_empty());
}

#[test]
fn text_parts_are_stored_as_utf8_only_when_asked() {
    let env = Env::new();
    let xml = backup(&[mms(
        42,
        "+15555550000",
        &[text_part(
            "See you at 8 &amp; bring &#55357;&#56832;&#10;ok",
        )],
    )]);
    env.write("b.xml", &xml);
    ok(mms_cmd(&env, &["b.xml"]));
    assert!(env.objects().is_empty(), "text parts need --text");
    ok(mms_cmd(&env, &["--text", "b.xml"]));
    let manifest = env.manifest();
    assert_eq!(manifest.len(), 1, "the SMIL part is not stored");
    let expected = "See you at 8 & bring 😀\nok".as_bytes();
    assert_eq!(manifest[0]["sha256"], sha256_hex(expected));
    assert_eq!(manifest[0]["name"], "text_0.txt");
    assert_eq!(manifest[0]["mime"], "text/plain");
}

/// Streams a backup holding one attachment of at least `size` bytes (whole
/// blocks of up to 3 MiB) into `ingest mms -`; its hash, its size and the
/// child's peak RSS in KiB.
fn mms_peak_rss(env: &Env, size: usize) -> (String, usize, i64) {
    let (mut cmd, report) = under_time(env, &["-q", "mms", "-"]);
    let (child, mut stdin) = spawn_fed(&mut cmd);
    let head = format!(
        "{PROLOG}<smses count=\"1\">\n  <mms date=\"{size}\" address=\"+1\" msg_box=\"1\">\n    <parts>\n      <part seq=\"0\" ct=\"video/mp4\" name=\"big.mp4\" data=\""
    );
    stdin.write_all(head.as_bytes()).unwrap();
    // Encoded and hashed as it is written: 3 MiB blocks encode to whole
    // base64 quanta, so the pieces join into one value.
    let block = noise(size.min(3 << 20), 11);
    let encoded = BASE64.encode(&block);
    let mut hasher = Sha256::new();
    let mut written = 0usize;
    while written < size {
        stdin.write_all(encoded.as_bytes()).unwrap();
        hasher.update(&block);
        written += block.len();
    }
    stdin
        .write_all(b"\" />\n    </parts>\n  </mms>\n</smses>\n")
        .unwrap();
    drop(stdin);
    let (code, peak_kib) = wait_with_peak_rss(child, &report);
    assert_eq!(code, Some(0));
    (hex(&hasher.finalize()), written, peak_kib)
}

/// Memory does not grow with the attachment: 512 MiB costs what 3 KiB
/// costs, give or take a few MiB (the binary's own pages are most of
/// either, so the bound is against the small run, not a number).
#[test]
fn a_512mib_attachment_streams_in_the_memory_of_a_small_one() {
    let env = Env::new();
    let (_, _, small_kib) = mms_peak_rss(&env, 3 << 10);
    let (expected, written, big_kib) = mms_peak_rss(&env, 512 << 20);
    let entry = &env.manifest()[1];
    assert_eq!(entry["sha256"], expected);
    assert_eq!(entry["size"], written as u64);
    assert!(
        big_kib < small_kib + 8 * 1024,
        "peak RSS {big_kib} KiB for 512 MiB, {small_kib} KiB for 3 KiB"
    );
}

#[test]
fn the_progress_bar_counts_the_backups_bytes_not_each_attachments() {
    let env = Env::new();
    let parts: Vec<String> = (0..3)
        .map(|i| part("video/mp4", &format!("clip{i}.mp4"), &noise(3 << 20, i)))
        .collect();
    let xml = backup(&[mms(1, "+15555550000", &parts)]);
    env.write("big-backup.xml", &xml);
    let mut cmd = bare_cmd();
    cmd.current_dir(env.path())
        .arg("--store")
        .arg(env.store())
        .args(["--progress", "always", "mms", "big-backup.xml"]);
    let err = stderr_of(&ok(cmd));
    let total = format!("/{:.2} MiB", xml.len() as f64 / (1 << 20) as f64);
    assert!(
        err.contains("big-backup.xml [") && err.contains(&total),
        "{err:?}"
    );
    assert!(
        !err.contains("clip0.mp4 ["),
        "a bar per attachment: {err:?}"
    );
}

#[test]
fn a_full_disk_mid_backup_stops_cleanly_and_a_rerun_adds_the_rest() {
    let env = Env::new();
    let _mount = crate::harness::tmpfs(&env.path().join("small"), "8m");
    let (jpg, png) = (media("photo.jpg"), media("photo.png"));
    let big = noise(20 << 20, 4);
    let xml = backup(&[
        mms(1, "+15555550000", &[part("image/jpeg", "first.jpg", &jpg)]),
        mms(2, "+15555550000", &[part("video/mp4", "big.mp4", &big)]),
        mms(3, "+15555550000", &[part("image/png", "last.png", &png)]),
    ]);
    env.write("b.xml", &xml);
    let store = env.path().join("small/store");
    let run = || {
        let mut cmd = bare_cmd();
        cmd.args(["--progress", "never", "--store"])
            .arg(&store)
            .arg("mms")
            .arg(env.path().join("b.xml"));
        cmd.output().unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "No space left on device");
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
    let lines = || std::fs::read_to_string(store.join("manifest.jsonl")).unwrap();
    assert_eq!(lines().lines().count(), 1, "only the first attachment");

    std::process::Command::new("mount")
        .args(["-o", "remount,size=40m"])
        .arg(env.path().join("small"))
        .status()
        .unwrap();
    let again = run();
    assert!(again.status.success(), "{}", stderr_of(&again));
    let names: Vec<String> = lines()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["first.jpg", "big.mp4", "last.png"]);
    ok(bare_cmd().arg("--store").arg(&store).arg("verify"));
}

#[test]
fn an_attachment_with_empty_data_is_said_not_silently_skipped() {
    let env = Env::new();
    let empty = "<part seq=\"0\" ct=\"image/jpeg\" name=\"lost.jpg\" chset=\"null\" cd=\"null\" fn=\"null\" cid=\"&lt;lost.jpg&gt;\" cl=\"lost.jpg\" ctt_s=\"null\" ctt_t=\"null\" text=\"null\" data=\"\" />".to_owned();
    let xml = env.write(
        "backup.xml",
        &backup(&[mms(1_700_000_000_000, "+15555550100", &[empty])]),
    );
    let out = ok(env.cmd([std::ffi::OsStr::new("mms"), xml.as_os_str()]));
    assert_says(&stderr_of(&out), "data is empty");
    assert!(env.objects().is_empty());
}
