//! `ingest serve` against real clients: curl, Python's http.client, raw
//! sockets for the clients that misbehave, nginx in front, clamd and
//! SeaweedFS behind.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::eventually;
use crate::harness::served::*;
use crate::util::*;

#[test]
fn multipart_files_stream_into_the_store_with_an_http_origin() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let a = env.write("a.bin", &noise(300_000, 1));
    let b = env.write("b.png", &tiny_png());
    let same = env.write("same-as-a.bin", &noise(300_000, 1));
    let (status, answer) = server.json(&[
        "-F",
        &format!("one=@{}", file_arg(&a)),
        "-F",
        &format!("two=@{}", file_arg(&b)),
        "-F",
        &format!("three=@{}", file_arg(&same)),
        "-F",
        "note=not a file",
        "-A",
        "test-agent/1",
        &server.url("/v1/upload"),
    ]);
    assert_eq!(status, 200, "{answer}");
    let files = answer["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "{answer}");
    assert_eq!(status_of(&files[0]), "new");
    assert_eq!(files[0]["sha256"], sha256_file(&a));
    assert_eq!(files[0]["size"], 300_000);
    assert_eq!(files[1]["type"], "image/png");
    assert_eq!(status_of(&files[2]), "duplicate");
    assert_eq!(answer["totals"]["new"], 2);
    assert_eq!(answer["totals"]["duplicates"], 1);
    assert_eq!(answer["totals"]["bytes_saved"], 300_000);
    let manifest = env.manifest();
    assert_eq!(manifest.len(), 3);
    let origin = &manifest[0]["origin"];
    assert_eq!(origin["kind"], "http");
    assert_eq!(origin["token"], "tester");
    assert_eq!(origin["remote"], "127.0.0.1");
    assert_eq!(origin["user_agent"], "test-agent/1");
    assert_eq!(manifest[0]["name"], "a.bin");
    assert!(server.stop());
    env.assert_store_valid();
    ok(env.cmd(["verify"]));
}

#[test]
fn put_stores_a_body_checks_its_digest_and_keeps_a_disagreeing_declared_type() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let photo = env.write("photo", &tiny_png());
    let url = server.url("/v1/files/photo.jpg");
    let (status, report) = server.json(&[
        "-T",
        &file_arg(&photo),
        "-H",
        "Content-Type: image/jpeg",
        &url,
    ]);
    assert_eq!(status, 201, "{report}");
    assert_eq!(status_of(&report), "new");
    assert!(
        report["warnings"]
            .to_string()
            .contains("declared image/jpeg"),
        "{report}"
    );
    let entry = &env.manifest()[0];
    assert_eq!(entry["mime"], "image/png");
    assert_eq!(entry["declared_mime"], "image/jpeg");
    // The same again: a duplicate, 200.
    let (status, report) = server.json(&["-T", &file_arg(&photo), &url]);
    assert_eq!((status, status_of(&report)), (200, "duplicate"));

    // A digest that does not match: 422, nothing stored.
    let other = env.write("other", &noise(5000, 2));
    let wrong = format!("sha-256=:{}:", base64_of(&[7u8; 32]));
    let (status, report) = server.json(&[
        "-T",
        &file_arg(&other),
        "-H",
        &format!("Repr-Digest: {wrong}"),
        &server.url("/v1/files/other.bin"),
    ]);
    assert_eq!((status, status_of(&report)), (422, "rejected"), "{report}");
    assert_eq!(report["reason"], "hash_mismatch");
    // The right one, in the simpler header.
    let (status, _) = server.json(&[
        "-T",
        &file_arg(&other),
        "-H",
        &format!("X-Ingest-Sha256: {}", sha256_file(&other)),
        &server.url("/v1/files/other.bin"),
    ]);
    assert_eq!(status, 201);
    // And in Repr-Digest.
    let third = env.write("third", &noise(7000, 3));
    let digest = sha2::Sha256::digest(std::fs::read(&third).unwrap());
    let right = format!("sha-256=:{}:", base64_of(&digest));
    let (status, _) = server.json(&[
        "-T",
        &file_arg(&third),
        "-H",
        &format!("Repr-Digest: {right}"),
        &server.url("/v1/files/third.bin"),
    ]);
    assert_eq!(status, 201);
    assert_eq!(env.objects().len(), 3);
    assert!(env.tmp_entries().is_empty());
}

use sha2::Digest as _;

#[test]
fn a_duplicate_says_when_the_store_first_got_its_bytes() {
    let env = Env::new();
    // Stored years ago by a cron run: the server learns it from the manifest.
    let old = env.write("old.bin", &noise(3000, 77));
    ok(env.cmd([&old]));
    let manifest = String::from_utf8(env.manifest_bytes()).unwrap();
    let first = env.manifest()[0]["ingested_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let aged = manifest.replace(&first, "2019-05-01T08:00:00Z");
    std::fs::write(env.store().join("manifest.jsonl"), aged).unwrap();
    let server = Served::start(&env, &[]);
    let url = server.url("/v1/files/again.bin");
    let (status, report) = server.json(&["-T", &file_arg(&old), &url]);
    assert_eq!((status, status_of(&report)), (200, "duplicate"), "{report}");
    assert_eq!(report["stored_since"], "2019-05-01T08:00:00Z", "{report}");
    // And its type, learnt the same way, goes out with it.
    let object = server.url(&format!("/v1/objects/{}", sha256_file(&old)));
    let (status, head) = server.curl(&["-I", &object]);
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/octet-stream"),
        "{head}"
    );
}

fn base64_of(bytes: &[u8]) -> String {
    let out = Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tokens_are_needed_checked_scoped_and_never_logged() {
    let env = Env::new();
    // No token yet: the server refuses to start and says what to do.
    let out = env
        .cmd(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_says(&stderr_of(&out), "ingest token add NAME");

    let server = Served::start(&env, &["-v"]);
    let reader = token_add(&env, "viewer", true);
    let file = env.write("f.bin", &noise(1000, 4));
    let upload = server.url("/v1/files/f.bin");

    let (status, _) = curl_status(&["-T", &file_arg(&file), &upload]);
    assert_eq!(status, 401, "no token");
    let wrong = format!("Authorization: Bearer {}x", server.token);
    let (status, _) = curl_status(&["-H", &wrong, "-T", &file_arg(&file), &upload]);
    assert_eq!(status, 401, "a wrong token");
    let read_only = format!("Authorization: Bearer {reader}");
    let (status, _) = curl_status(&["-H", &read_only, "-T", &file_arg(&file), &upload]);
    assert_eq!(status, 403, "a read-only token uploads");
    assert!(env.objects().is_empty());
    let (status, _) = curl_status(&["-H", &read_only, &server.url("/v1/entries")]);
    assert_eq!(status, 200, "a read-only token reads");
    let (status, _) = curl_status(&[&server.url("/v1/health")]);
    assert_eq!(status, 200, "health needs no token");
    let (status, _) = curl_status(&[&server.url("/v1/limits")]);
    assert_eq!(status, 401);

    // A token removed is refused from then on, without a restart.
    ok(env.cmd(["token", "rm", "viewer"]));
    let (status, _) = curl_status(&["-H", &read_only, &server.url("/v1/entries")]);
    assert_eq!(status, 401);
    let listed = stdout_of(&ok(env.cmd(["token", "ls"])));
    assert!(listed.contains("tester\tread-write"), "{listed}");
    assert!(
        !listed.contains("viewer") && !listed.contains("ingest_"),
        "{listed}"
    );
    let listed = stdout_of(&ok(env.cmd(["token", "ls", "--json"])));
    let rows: Vec<Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{listed}");
    assert_eq!(rows[0]["name"], "tester");
    assert_eq!(rows[0]["scope"], "read-write");
    assert!(rows[0]["created"].is_string(), "{listed}");

    let log = server.log();
    assert!(log.contains("token=\"viewer\""), "{log}");
    assert!(
        !log.contains(&server.token) && !log.contains(&reader),
        "{log}"
    );
    let kept = std::fs::read_to_string(env.store().join("tokens.json")).unwrap();
    assert!(!kept.contains(&server.token));
}

#[test]
fn objects_come_back_whole_in_ranges_and_active_types_as_attachments() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let bytes = noise(200_000, 5);
    let file = env.write("data.bin", &bytes);
    let hex = sha256_file(&file);
    server.json(&["-T", &file_arg(&file), &server.url("/v1/files/data.bin")]);
    let object = server.url(&format!("/v1/objects/{hex}"));
    let got = env.path().join("got");
    let (status, _) = server.curl(&["-o", &file_arg(&got), &object]);
    assert_eq!(status, 200);
    assert_eq!(std::fs::read(&got).unwrap(), bytes);

    let (status, _) = server.curl(&["-H", "Range: bytes=100-109", "-o", &file_arg(&got), &object]);
    assert_eq!(status, 206);
    assert_eq!(std::fs::read(&got).unwrap(), &bytes[100..110]);
    let (status, _) = server.curl(&["-H", "Range: bytes=150000-", "-o", &file_arg(&got), &object]);
    assert_eq!(status, 206);
    assert!(std::fs::read(&got).unwrap() == bytes[150_000..]);
    let (status, _) = server.curl(&["-H", "Range: bytes=300000-", &object]);
    assert_eq!(status, 416);
    let (status, _) = server.curl(&["-H", &format!("If-None-Match: \"{hex}\""), &object]);
    assert_eq!(status, 304);
    let (status, head) = server.curl(&["-I", &object]);
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(head.contains(&format!("etag: \"{hex}\"")), "{head}");
    assert!(
        head.contains("immutable") && head.contains("nosniff"),
        "{head}"
    );
    let (status, _) = server.curl(&[
        "-I",
        &server.url(&format!("/v1/objects/{}", "0".repeat(64))),
    ]);
    assert_eq!(status, 404);
    // Every error is JSON, those the router makes itself too.
    let not_utf8 = server.url("/v1/objects/%FF");
    for (args, want) in [
        (&["-X", "DELETE", &object][..], 405),
        (&["-X", "POST", &object][..], 405),
        (&[not_utf8.as_str()][..], 400),
    ] {
        let (status, answer) = server.json(args);
        assert_eq!(status, want, "{args:?}: {answer}");
        assert!(answer["error"].is_string(), "{args:?}: {answer}");
    }

    let page = env.write(
        "page.html",
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    );
    let (_, report) = server.json(&["-T", &file_arg(&page), &server.url("/v1/files/page.html")]);
    assert_eq!(report["type"], "text/html", "{report}");
    let html = server.url(&format!(
        "/v1/objects/{}",
        report["sha256"].as_str().unwrap()
    ));
    let (_, head) = server.curl(&["-I", &html]);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-disposition: attachment"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("sandbox"), "{head}");
}

#[test]
fn a_camera_jpeg_gives_its_own_thumbnail() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let media = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media");
    let thumbnail_of = |name: &str| {
        let (status, report) = server.json(&[
            "-T",
            &file_arg(&media.join(name)),
            &server.url(&format!("/v1/files/{name}")),
        ]);
        assert_eq!(status, 201, "{report}");
        let url = server.url(&format!(
            "/v1/objects/{}/thumbnail",
            report["sha256"].as_str().unwrap()
        ));
        let got = env.path().join("thumbnail");
        let (status, head) = server.curl(&["-D", "-", "-o", &file_arg(&got), &url]);
        (
            status,
            head.to_ascii_lowercase(),
            std::fs::read(&got).unwrap(),
        )
    };
    for name in ["photo-exif.jpg", "photo-exif-mm.jpg"] {
        let (status, head, thumbnail) = thumbnail_of(name);
        assert_eq!(status, 200, "{name}: {head}");
        assert!(head.contains("content-type: image/jpeg"), "{head}");
        assert!(
            head.contains("immutable") && head.contains("nosniff"),
            "{head}"
        );
        // The 80x60 JPEG exiftool embedded (make.sh), as it lies in the file.
        let photo = std::fs::read(media.join(name)).unwrap();
        assert_eq!(thumbnail.len(), 1166, "{name}");
        assert!(thumbnail.starts_with(&[0xFF, 0xD8]));
        assert!(photo.windows(thumbnail.len()).any(|w| w == thumbnail));
    }
    // None in the file, or not a JPEG: 404, and the page shows the object.
    for name in ["photo.jpg", "photo.png"] {
        let (status, _, body) = thumbnail_of(name);
        assert_eq!(status, 404, "{name}");
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert!(answer["error"].is_string(), "{answer}");
    }
}

#[test]
fn listen_takes_a_host_name_or_a_port_alone_on_loopback() {
    let env = Env::new();
    let token = token_add(&env, "tester", false);
    for listen in ["localhost:0", "0"] {
        let cmd = env.cmd(["serve", "--listen", listen]);
        // start_with waits for "serving ... on http://127.0.0.1:PORT".
        let server = Served::start_with(cmd, &[], token.clone());
        let (status, _) = server.curl(&[&server.url("/v1/health")]);
        assert_eq!(status, 200, "{listen}");
    }
    let refused = env.cmd(["serve", "--listen", ":8420"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("0.0.0.0:8420"), "{said}");
}

#[test]
fn entries_page_newest_first_and_filter() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    for i in 0..5u64 {
        let file = env.write(format!("n{i}.bin"), &noise(100 + i as usize, 10 + i));
        server.json(&[
            "-T",
            &file_arg(&file),
            &server.url(&format!("/v1/files/n{i}.bin")),
        ]);
    }
    let png = env.write("pic.png", &tiny_png());
    server.json(&[
        "-T",
        &file_arg(&png),
        &server.url("/v1/files/Holiday%20Pic.png"),
    ]);
    let (_, page) = server.json(&[&server.url("/v1/entries?limit=4")]);
    let names: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Holiday Pic.png", "n4.bin", "n3.bin", "n2.bin"]);
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, rest) = server.json(&[&server.url(&format!("/v1/entries?limit=4&cursor={next}"))]);
    let rest: Vec<&str> = rest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["n1.bin", "n0.bin"]);
    let (_, images) = server.json(&[&server.url("/v1/entries?type=image/*")]);
    assert_eq!(images["entries"].as_array().unwrap().len(), 1);
    let (_, found) = server.json(&[&server.url("/v1/entries?name=holiday")]);
    assert_eq!(found["entries"][0]["name"], "Holiday Pic.png");
    let (status, limits) = server.json(&[&server.url("/v1/limits")]);
    assert_eq!(status, 200);
    assert_eq!(limits["scanning"], false);

    // Dates: prefixes that end at a field, or RFC 3339 times in any offset.
    let at = page["entries"][0]["ingested_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let count = |query: &str| {
        let (status, page) = server.json(&[&server.url(&format!("/v1/entries?{query}"))]);
        assert_eq!(status, 200, "{query}: {page}");
        page["entries"].as_array().unwrap().len()
    };
    assert_eq!(count(&format!("since={}", &at[..4])), 6);
    assert_eq!(count(&format!("since={}", &at[..10])), 6);
    assert_eq!(count(&format!("until={}", &at[..4])), 0);
    assert_eq!(count("until=2999-01"), 6);
    assert_eq!(count("since=2999-01-01T00:00:00%2B02:00"), 0);
    // A filter that cannot mean anything is refused, in JSON, naming it.
    for (query, names) in [
        ("since=yesterday", "since"),
        ("until=2026-1", "until"),
        ("kind=images", "kind"),
        ("limit=lots", "limit"),
        ("cursor=-1", "cursor"),
        ("type=image", "type"),
    ] {
        let (status, answer) = server.json(&[&server.url(&format!("/v1/entries?{query}"))]);
        assert_eq!(status, 400, "{query}: {answer}");
        let why = answer["error"].as_str().unwrap_or_default();
        assert!(why.contains(names), "{query}: {answer}");
    }
}

#[test]
fn hostile_names_become_one_safe_component() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let file = env.write("x", &noise(100, 20));
    let form = format!(
        "f=@{};filename=\"../../etc/<img src=x onerror=alert(1)>.jpg\"",
        file_arg(&file)
    );
    let (status, answer) = server.json(&["-F", &form, &server.url("/v1/upload")]);
    assert_eq!(status, 200, "{answer}");
    // One component, kept as sent otherwise: it is a record, shown as text.
    assert_eq!(
        answer["files"][0]["name"],
        "<img src=x onerror=alert(1)>.jpg"
    );
    // RFC 5987: filename* (UTF-8, percent-encoded) wins over filename.
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"plain.txt\"; filename*=UTF-8''caf%C3%A9%2F..%2Fx.txt\r\n\r\nhello\r\n--XyZ--\r\n";
    let body_file = env.write("body", body.as_bytes());
    let (status, answer) = server.json(&[
        "-H",
        "Content-Type: multipart/form-data; boundary=XyZ",
        "--data-binary",
        &format!("@{}", file_arg(&body_file)),
        &server.url("/v1/upload"),
    ]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["files"][0]["name"], "x.txt");
    // A path name with an encoded slash stays one component.
    let (status, report) = server.json(&[
        "-T",
        &file_arg(&file),
        &server.url("/v1/files/..%2F..%2Fescape.bin"),
    ]);
    assert!(status == 201 || status == 200, "{report}");
    assert!(!report["name"].as_str().unwrap().contains('/'), "{report}");
    assert!(!env.path().join("escape.bin").exists());
    // A name too long for a file system is cut as export cuts: whole
    // characters, the extension kept.
    let long = format!("{}.jpg", "é".repeat(150));
    let form = format!("f=@{};filename=\"{long}\"", file_arg(&file));
    let (status, answer) = server.json(&["-F", &form, &server.url("/v1/upload")]);
    assert_eq!(status, 200, "{answer}");
    let name = answer["files"][0]["name"].as_str().unwrap();
    assert!(name.len() <= 240 && name.ends_with("é.jpg"), "{name}");
}

#[test]
fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
    let env = Env::new();
    let server = Served::start(&env, &["--max-size", "100K"]);
    let big = env.write("big.bin", &noise(3 << 20, 30));
    // curl sends Expect: 100-continue for a body this large, and waits.
    let started = Instant::now();
    let (status, body) = server.curl(&["-T", &file_arg(&big), &server.url("/v1/files/big.bin")]);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("too_large"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // Chunked (no length): cut off as it passes the limit.
    let (status, body) = server.curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "-T",
        &file_arg(&big),
        &server.url("/v1/files/big.bin"),
    ]);
    assert_eq!(status, 413, "{body}");
    // In a multipart body: that file is rejected, 413.
    let (status, answer) = server.json(&[
        "-F",
        &format!("f=@{}", file_arg(&big)),
        &server.url("/v1/upload"),
    ]);
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["files"][0]["reason"], "too_large");
    assert!(env.objects().is_empty());
    assert!(env.tmp_entries().is_empty(), "{:?}", env.tmp_entries());
    let (status, _) = server.curl(&[&server.url("/v1/health")]);
    assert_eq!(status, 200);
}

#[test]
fn a_client_still_sending_when_refused_gets_the_answer() {
    let env = Env::new();
    let server = Served::start(&env, &["--max-size", "100K"]);
    // A client that sends its whole body before it reads (no Expect),
    // more than the sockets buffer: the answer comes early.
    let big = noise(48 << 20, 31);
    let chunked = [
        format!("{:x}\r\n", big.len()).as_bytes(),
        &big,
        b"\r\n0\r\n\r\n",
    ]
    .concat();
    let multipart = [
        &b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big.bin\"\r\n\r\n"[..],
        &big,
        b"\r\n--XyZ--\r\n",
    ]
    .concat();
    let cases = [
        // Refused by its length, before any of it is read.
        (
            "PUT",
            "/v1/files/big.bin",
            format!("Content-Length: {}\r\n", big.len()),
            &big,
        ),
        // Refused as it passes the limit.
        (
            "PUT",
            "/v1/files/big.bin",
            "Transfer-Encoding: chunked\r\n".to_owned(),
            &chunked,
        ),
        (
            "POST",
            "/v1/upload",
            format!(
                "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n",
                multipart.len()
            ),
            &multipart,
        ),
    ];
    for (method, path, head_extra, body) in cases {
        let mut socket = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n{head_extra}\r\n",
            server.token,
        );
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        socket.write_all(head.as_bytes()).unwrap();
        let sent = socket.write_all(body);
        let mut answer = String::new();
        let read = socket.read_to_string(&mut answer);
        // A reset would fail the sending first (curl then gives up on the
        // answer): the server reads and drops the rest instead.
        assert!(
            sent.is_ok() && answer.starts_with("HTTP/1.1 413"),
            "{method} {path} {head_extra:?}: sent {sent:?}, read {read:?}: {answer:?}"
        );
    }
    assert!(env.objects().is_empty());
    assert!(env.tmp_entries().is_empty(), "{:?}", env.tmp_entries());
}

/// Starts a raw HTTP/1.1 `PUT path` of `length` bytes and sends the first
/// `sent` of them (noise from `seed`), then returns the open connection.
fn start_put(server: &Served, path: &str, length: u64, sent: usize, seed: u64) -> TcpStream {
    let mut socket = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    socket
        .write_all(put_head(server, path, length).as_bytes())
        .unwrap();
    socket.write_all(&noise(sent, seed)).unwrap();
    socket
}

/// A raw HTTP/1.1 request head for `PUT path` with a body of `length`.
fn put_head(server: &Served, path: &str, length: u64) -> String {
    format!(
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Length: {length}\r\n\r\n",
        server.token
    )
}

#[test]
fn a_client_that_disconnects_or_stalls_leaves_nothing_behind() {
    let env = Env::new();
    let server = Served::start(&env, &["--body-timeout", "1"]);
    // Gone mid-body.
    let socket = start_put(&server, "/v1/files/cut.bin", 1 << 20, 400_000, 40);
    env.wait_for_temp_file();
    drop(socket);
    eventually(Duration::from_secs(10), "the temp file removed", || {
        env.tmp_entries().is_empty()
    });
    // Stalled mid-body: dropped after --body-timeout.
    let mut socket = start_put(&server, "/v1/files/stall.bin", 1 << 20, 100_000, 41);
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(env.manifest_bytes().is_empty());
    assert!(env.objects().is_empty());
    assert!(env.tmp_entries().is_empty());
    // The server goes on.
    let file = env.write("fine.bin", &noise(1000, 42));
    let (status, _) = server.json(&["-T", &file_arg(&file), &server.url("/v1/files/fine.bin")]);
    assert_eq!(status, 201);
}

#[test]
fn request_heads_over_32_kib_are_refused_on_every_connection() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let photo = env.write("photo", &tiny_png());
    let pad = |bytes: usize| format!("X-Pad: {}", "a".repeat(bytes));
    // The first connections read into buffers wider than the limit.
    let (status, _) = server.curl(&["-H", &pad(30_000), &server.url("/v1/health")]);
    assert_eq!(status, 200, "a 30 KB head is within the limit");
    let (status, body) = server.curl(&["-H", &pad(40_000), &server.url("/v1/health")]);
    assert_eq!(status, 431, "{body}");
    assert!(body.contains("over 32 KiB"), "{body}");
    let (status, _) = server.curl(&[
        "-H",
        &pad(40_000),
        "-T",
        &file_arg(&photo),
        &server.url("/v1/files/photo.png"),
    ]);
    assert_eq!(status, 431);
    assert!(env.manifest().is_empty(), "nothing is stored");
    assert!(!server.log().contains("aaaa"), "a head is never logged");
}

#[test]
fn a_slow_loris_is_dropped_after_the_header_timeout() {
    let env = Env::new();
    let server = Served::start(&env, &["--header-timeout", "1"]);
    let mut socket = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    socket
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = socket.read_to_end(&mut answer);
    assert!(read.is_ok(), "the connection was not closed: {read:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let (status, _) = server.curl(&[&server.url("/v1/health")]);
    assert_eq!(status, 200);
}

#[test]
fn uploads_past_the_cap_get_503_with_retry_after() {
    let env = Env::new();
    let server = Served::start(&env, &["--max-uploads", "1"]);
    let mut socket = start_put(&server, "/v1/files/slow.bin", 1 << 20, 300_000, 50);
    env.wait_for_temp_file();
    let file = env.write("f.bin", &noise(1000, 51));
    let (status, head) =
        server.curl(&["-i", "-T", &file_arg(&file), &server.url("/v1/files/f.bin")]);
    assert_eq!(status, 503, "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    // A client that sends a large body before it reads (no Expect) gets
    // the 503 too, not a reset (start_put fails on one).
    let mut eager = start_put(&server, "/v1/files/eager.bin", 48 << 20, 48 << 20, 53);
    let mut answer = [0u8; 12];
    eager.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 503");
    socket.write_all(&noise((1 << 20) - 300_000, 52)).unwrap();
    let mut answer = [0u8; 12];
    socket.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 201");
    let (status, _) = server.json(&["-T", &file_arg(&file), &server.url("/v1/files/f.bin")]);
    assert_eq!(status, 201);
}

#[test]
fn sigterm_lets_uploads_in_flight_finish_within_the_grace_period() {
    let env = Env::new();
    let server = Served::start(&env, &["--grace", "20"]);
    let mut socket = start_put(&server, "/v1/files/late.bin", 600_000, 300_000, 60);
    env.wait_for_temp_file();
    signal(server.pid(), "TERM");
    eventually(
        Duration::from_secs(10),
        "the server to stop accepting",
        || server.log().contains("stopping"),
    );
    let rest = noise(600_000, 60);
    socket.write_all(&rest[300_000..]).unwrap();
    let mut answer = [0u8; 12];
    socket.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 201");
    assert!(server.stop());
    assert_eq!(env.manifest().len(), 1);
    env.assert_store_valid();
}

#[test]
fn sigterm_cuts_off_uploads_past_the_grace_period_leaving_nothing() {
    let env = Env::new();
    let server = Served::start(&env, &["--grace", "1"]);
    let _in_flight = start_put(&server, "/v1/files/never.bin", 600_000, 300_000, 61);
    env.wait_for_temp_file();
    assert!(server.stop());
    assert!(env.manifest_bytes().is_empty());
    assert!(env.objects().is_empty());
    assert!(env.tmp_entries().is_empty(), "{:?}", env.tmp_entries());
}

#[test]
fn a_hundred_concurrent_uploads_with_overlapping_contents_store_each_once() {
    let env = Env::new();
    let server = Served::start(
        &env,
        &["--max-uploads", "128", "--max-uploads-per-token", "128"],
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/serve/clients.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([
            "concurrent",
            &server.port.to_string(),
            &server.token,
            "100",
            "20",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let summary: Value = serde_json::from_str(stdout_of(&out).trim()).unwrap();
    assert_eq!(summary["failures"], 0, "{summary}");
    // 100 uploads of 20 distinct contents: 20 objects, 100 lines.
    assert_eq!(env.objects().len(), 20);
    assert_eq!(env.manifest().len(), 100);
    assert_eq!(summary["new"], 20, "{summary}");
    assert!(server.stop());
    ok(env.cmd(["verify"]));
}

#[test]
fn a_gibibyte_streams_through_http_client_in_flat_memory() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/serve/clients.py");
    let big = |size: u64| {
        let out = Command::new("python3")
            .arg(&script)
            .args([
                "big",
                &server.port.to_string(),
                &server.token,
                &size.to_string(),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let report: Value = serde_json::from_str(stdout_of(&out).trim()).unwrap();
        assert_eq!(report["status"], "new", "{report}");
        assert_eq!(report["size"], size);
        assert_eq!(report["sha256"], report["client_sha256"], "{report}");
        crate::harness::timing::peak_rss_kib(server.pid())
    };
    let small = big(1024);
    let large = big(1 << 30);
    assert!(
        large < small + 16 * 1024,
        "peak RSS {large} KiB after 1 GiB, {small} KiB after 1 KiB"
    );
}

#[test]
fn eicar_is_rejected_and_a_stopped_clamd_fails_closed_with_503() {
    let env = Env::new();
    let clamd = crate::harness::clamd::Clamd::start("10M");
    let socket = clamd.socket().display().to_string();
    let server = Served::start(&env, &["--clamd", &socket]);
    let eicar = env.write("eicar.com", &crate::harness::clamd::eicar());
    let (status, report) =
        server.json(&["-T", &file_arg(&eicar), &server.url("/v1/files/eicar.com")]);
    assert_eq!((status, status_of(&report)), (422, "rejected"), "{report}");
    assert_eq!(report["reason"], "infected");
    let clean = env.write("clean.bin", &noise(5000, 70));
    let (status, report) =
        server.json(&["-T", &file_arg(&clean), &server.url("/v1/files/clean.bin")]);
    assert_eq!(status, 201, "{report}");
    assert_eq!(env.manifest()[0]["scanned"], true);
    drop(clamd);
    let other = env.write("other.bin", &noise(5000, 71));
    let (status, report) =
        server.json(&["-T", &file_arg(&other), &server.url("/v1/files/other.bin")]);
    assert_eq!((status, status_of(&report)), (503, "failed"), "{report}");
    assert_eq!(env.objects().len(), 1);
    assert!(env.tmp_entries().is_empty());
}

#[test]
fn a_full_disk_answers_507_and_the_server_goes_on() {
    let env = Env::new();
    std::fs::create_dir_all(env.store()).unwrap();
    let _mount = crate::harness::tmpfs(&env.store(), "2m");
    let server = Served::start(&env, &[]);
    let big = env.write("big.bin", &noise(3 << 20, 80));
    let (status, report) = server.json(&["-T", &file_arg(&big), &server.url("/v1/files/big.bin")]);
    assert_eq!((status, status_of(&report)), (507, "failed"), "{report}");
    assert!(env.tmp_entries().is_empty(), "{:?}", env.tmp_entries());
    let small = env.write("small.bin", &noise(10_000, 81));
    let (status, _) = server.json(&["-T", &file_arg(&small), &server.url("/v1/files/small.bin")]);
    assert_eq!(status, 201);
    assert!(server.stop());
    env.assert_store_valid();
}

#[test]
fn an_s3_store_behind_the_server() {
    let env = Env::new();
    let s3 = crate::harness::s3::Server::start();
    let url = crate::harness::s3::store_url("served");
    let out = s3.cmd(&url, ["token", "add", "tester"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let token = stdout_of(&out).trim().to_owned();
    let cmd = s3.cmd(&url, ["serve", "--listen", "127.0.0.1:0"]);
    let server = Served::start_with(cmd, &[], token);
    let file = env.write("f.bin", &noise(700_000, 90));
    let (status, report) = server.json(&["-T", &file_arg(&file), &server.url("/v1/files/f.bin")]);
    assert_eq!(status, 201, "{report}");
    let got = env.path().join("got");
    let object = server.url(&format!("/v1/objects/{}", sha256_file(&file)));
    let (status, _) = server.curl(&["-o", &file_arg(&got), &object]);
    assert_eq!(status, 200);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(std::fs::read(&got).unwrap(), bytes);
    // Ranges are asked of S3 as ranges: each comes back as it should.
    for (range, want) in [
        ("650000-650099", &bytes[650_000..650_100]),
        ("123456-", &bytes[123_456..]),
        ("-100", &bytes[bytes.len() - 100..]),
    ] {
        let header = format!("Range: bytes={range}");
        let (status, _) = server.curl(&["-H", &header, "-o", &file_arg(&got), &object]);
        assert_eq!(status, 206, "{range}");
        assert!(std::fs::read(&got).unwrap() == want, "{range}");
    }
    // A thumbnail is read from the start of an object smaller than the
    // head it asks S3 for.
    let media = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media");
    let photo = media.join("photo-exif.jpg");
    let (status, report) = server.json(&["-T", &file_arg(&photo), &server.url("/v1/files/p.jpg")]);
    assert_eq!(status, 201, "{report}");
    let thumbnail = server.url(&format!("/v1/objects/{}/thumbnail", sha256_file(&photo)));
    let (status, _) = server.curl(&["-o", &file_arg(&got), &thumbnail]);
    assert_eq!(status, 200);
    assert_eq!(std::fs::read(&got).unwrap().len(), 1166);
    let (_, page) = server.json(&[&server.url("/v1/entries")]);
    assert_eq!(page["entries"][1]["name"], "f.bin");
    assert!(server.stop());
    let out = s3.cmd(&url, ["verify"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn nginx_in_front_streams_without_buffering() {
    let env = Env::new();
    let server = Served::start(&env, &["--max-size", "64M"]);
    let nginx = Nginx::start(&env, server.port);
    let big = env.write("big.bin", &noise(20 << 20, 100));
    let auth = format!("Authorization: Bearer {}", server.token);
    let url = format!("http://127.0.0.1:{}/v1/files/big.bin", nginx.port);
    let started = std::thread::spawn({
        let (auth, url, big) = (auth.clone(), url.clone(), file_arg(&big));
        move || curl_status(&["-H", &auth, "--limit-rate", "4M", "-T", &big, &url])
    });
    // Unbuffered: the server has the upload's bytes while nginx still
    // receives them.
    env.wait_for_temp_file();
    let (status, body) = started.join().unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, body) = curl_status(&[
        "-H",
        &auth,
        &format!("http://127.0.0.1:{}/v1/entries", nginx.port),
    ]);
    assert_eq!(status, 200, "{body}");
    drop(nginx);
}

/// nginx from Debian, proxying to the server as docs/serving.md's site does.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(env: &Env, upstream: u16) -> Nginx {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is not installed (.ci/setup installs it)");
        let dir = env.path().join("nginx");
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let port = free_port();
        let conf = format!(
            include_str!("../serve/nginx-test.conf"),
            dir = dir.display(),
            port = port,
            upstream = upstream
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(binary)
            .args([
                "-p",
                &file_arg(&dir),
                "-c",
                &file_arg(&dir.join("nginx.conf")),
            ])
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        eventually(Duration::from_secs(20), "nginx to listen", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Nginx { child, port }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The PNG signature and the start of a header: what sniffing needs.
fn tiny_png() -> Vec<u8> {
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec()
}

#[test]
fn json_logs_have_one_object_per_request_and_never_the_token() {
    let env = Env::new();
    let token = token_add(&env, "tester", false);
    let cmd = env.cmd(["--json", "serve", "--listen", "127.0.0.1:0", "-v"]);
    let server = Served::start_with(cmd, &[], token);
    let file = env.write("f.bin", &noise(2000, 110));
    let (status, _) = server.json(&["-T", &file_arg(&file), &server.url("/v1/files/f.bin?x=1")]);
    assert_eq!(status, 201);
    eventually(Duration::from_secs(10), "the request's log line", || {
        server.log().contains("/v1/files/f.bin")
    });
    let log = server.log();
    let line = log.lines().find(|l| l.contains("/v1/files/f.bin")).unwrap();
    let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let fields = &value["fields"];
    assert_eq!(fields["method"], "PUT", "{line}");
    assert_eq!(fields["status"], 201, "{line}");
    assert_eq!(fields["token"], "tester", "{line}");
    assert!(!log.contains(&server.token), "{log}");
}

#[test]
fn gc_of_orphans_runs_while_the_server_is_idle_and_never_beside_an_upload() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let file = env.write("f.bin", &noise(5000, 120));
    let (status, _) = server.json(&["-T", &file_arg(&file), &server.url("/v1/files/f.bin")]);
    assert_eq!(status, 201);
    let orphan = |seed: u64| {
        let bytes = noise(3000, seed);
        let path = env.object(&sha256_hex(&bytes));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        path
    };
    let gc = || {
        env.cmd(["gc", "--orphans", "--older-than", "0s", "--wait-lock", "1"])
            .output()
            .unwrap()
    };
    // Idle, the server holds nothing: a nightly gc goes ahead.
    let first = orphan(121);
    let out = gc();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!first.exists());
    // With an upload under way, gc cannot tell it from an orphan: it
    // waits, then gives up, removing nothing.
    let mut socket = start_put(&server, "/v1/files/slow.bin", 400_000, 100_000, 122);
    env.wait_for_temp_file();
    let second = orphan(123);
    let out = gc();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "another ingest is writing");
    assert!(second.exists());
    socket.write_all(&noise(400_000, 122)[100_000..]).unwrap();
    let mut answer = [0u8; 12];
    socket.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 201");
    // Done, and idle again: gc goes ahead, and the server still stores.
    let out = gc();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!second.exists());
    let again = env.write("g.bin", &noise(5000, 124));
    let (status, _) = server.json(&["-T", &file_arg(&again), &server.url("/v1/files/g.bin")]);
    assert_eq!(status, 201);
    assert!(server.stop());
    ok(env.cmd(["verify"]));
}

#[test]
fn http2_with_prior_knowledge_uploads_and_reads_back() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let file = env.write("h2.bin", &noise(300_000, 130));
    let auth = format!("Authorization: Bearer {}", server.token);
    let out = Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge", "-o", "/dev/null"])
        .args(["-w", "%{http_version} %{http_code}", "-H", &auth, "-T"])
        .arg(&file)
        .arg(server.url("/v1/files/h2.bin"))
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "2 201", "{}", stderr_of(&out));
    let got = env.path().join("got");
    let object = server.url(&format!("/v1/objects/{}", sha256_file(&file)));
    let (status, _) = server.curl(&["--http2-prior-knowledge", "-o", &file_arg(&got), &object]);
    assert_eq!(status, 200);
    assert_eq!(std::fs::read(&got).unwrap(), std::fs::read(&file).unwrap());
}
