//! Resumable uploads (tus 1.0 under /v1/tus/): real clients that nobody
//! here wrote (tus-js-client under Node, tuspy), the protocol's answers
//! spoken raw with curl, and faults: connections cut again and again, the
//! server killed mid-upload, a lying client, a full disk, expiry and gc.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::harness::served::{Served, curl_status, file_arg, token_add};
use crate::util::*;

/// Where .ci/setup installs the clients: tus-js-client under
/// target/tus-clients, tuspy in the browser tests' venv.
fn clients() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let node_modules = root.join("target/tus-clients");
    let python = root.join("target/browser-venv/bin/python");
    assert!(
        node_modules
            .join("node_modules/tus-js-client/package.json")
            .exists()
            && python.exists(),
        "the resumable-upload tests need tus-js-client and tuspy: run .ci/setup"
    );
    (node_modules, python)
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tus")
        .join(name)
}

/// tests/tus/client.js: tus-js-client uploading `file` as `name`.
fn node(endpoint: &str, token: &str, file: &Path, name: &str, mode: &str) -> Command {
    let (modules, _) = clients();
    let mut cmd = Command::new("node");
    cmd.env("TUS_CLIENTS", modules)
        .arg(script("client.js"))
        .args([endpoint, token])
        .arg(file)
        .args([name, mode]);
    cmd
}

fn last_json(out: &std::process::Output) -> Value {
    let text = stdout_of(out);
    let line = text.lines().last().unwrap_or("");
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}\n{}", stderr_of(out)))
}

/// The store's entries by name: (sha256, size).
fn stored(env: &Env) -> std::collections::HashMap<String, (String, u64)> {
    env.manifest()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                (
                    e["sha256"].as_str().unwrap().to_owned(),
                    e["size"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// curl with the server's token and `Tus-Resumable: 1.0.0`; the status
/// and the response's headers (lower-cased names).
fn tus(
    server: &Served,
    token: &str,
    args: &[&str],
) -> (u16, std::collections::HashMap<String, String>) {
    let auth = format!("Authorization: Bearer {token}");
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "-H",
            &auth,
            "-H",
            "Tus-Resumable: 1.0.0",
        ])
        .args(args)
        .output()
        .unwrap();
    let text = stdout_of(&out);
    // The last answer's head (after any 100 Continue).
    let last = text.rfind("HTTP/").map_or(&text[..], |at| &text[at..]);
    let mut lines = last.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let _ = server;
    (status, headers)
}

/// Makes an upload of `length` bytes named `name`; its URL.
fn create(server: &Served, token: &str, length: usize, name: &str) -> String {
    let meta = format!(
        "Upload-Metadata: filename {}",
        base64::engine::general_purpose::STANDARD.encode(name)
    );
    let (status, headers) = tus(
        server,
        token,
        &[
            "-X",
            "POST",
            "-H",
            &format!("Upload-Length: {length}"),
            "-H",
            &meta,
            &server.url("/v1/tus/"),
        ],
    );
    assert_eq!(status, 201, "{headers:?}");
    server.url(&headers["location"])
}

/// PATCHes `bytes` at `offset`, with `extra` curl arguments.
fn patch(
    server: &Served,
    token: &str,
    url: &str,
    offset: u64,
    bytes: &[u8],
    extra: &[&str],
) -> (u16, std::collections::HashMap<String, String>) {
    let body = std::env::temp_dir().join(format!("tus-piece-{}-{offset}", std::process::id()));
    std::fs::write(&body, bytes).unwrap();
    let offset = format!("Upload-Offset: {offset}");
    let mut args = vec![
        "-X",
        "PATCH",
        "-H",
        "Content-Type: application/offset+octet-stream",
        "-H",
        &offset,
        "--data-binary",
    ];
    let at = format!("@{}", body.display());
    args.push(&at);
    args.extend_from_slice(extra);
    args.push(url);
    let answer = tus(server, token, &args);
    let _ = std::fs::remove_file(&body);
    answer
}

fn head(
    server: &Served,
    token: &str,
    url: &str,
) -> (u16, std::collections::HashMap<String, String>) {
    tus(server, token, &["-I", url])
}

#[test]
fn tus_js_client_uploads_and_resumes_after_an_abort() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let bytes = noise(24 << 20, 1);
    let file = env.write("clip.bin", &bytes);
    let endpoint = server.url("/v1/tus/");
    let out = node(&endpoint, &server.token, &file, "clip.mp4", "interrupted")
        .output()
        .unwrap();
    let result = last_json(&out);
    assert_eq!(result["ok"], true, "{result}\n{}", stderr_of(&out));
    // It went on from where the server had it, not from the start.
    let from = result["resumedFrom"].as_u64().unwrap();
    assert!(from > 0 && from < bytes.len() as u64, "{result}");
    assert_eq!(
        stored(&env)["clip.mp4"],
        (sha256_hex(&bytes), bytes.len() as u64)
    );
    // A small one whole, and the same bytes again: a duplicate.
    let small = env.write("note.txt", b"a note sent in one go\n");
    for _ in 0..2 {
        let out = node(&endpoint, &server.token, &small, "note.txt", "whole")
            .output()
            .unwrap();
        assert_eq!(last_json(&out)["ok"], true, "{}", stderr_of(&out));
    }
    assert_eq!(env.manifest().len(), 2);
    // What stays of them is their outcome: no bytes.
    let out = ok(env.cmd(["--json", "uploads", "ls"]));
    let partials = json_lines(&out);
    assert_eq!(partials.len(), 3, "{partials:?}");
    assert!(
        partials.iter().all(|p| p["stored"].is_string()),
        "{partials:?}"
    );
    let leftovers: Vec<PathBuf> = files_under(&env.store().join("uploads"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e != "json"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(server.stop());
    env.assert_store_valid();
}

#[test]
fn tuspy_uploads_in_chunks_and_resumes() {
    let (_, python) = clients();
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let bytes = noise(3 << 20, 2);
    let file = env.write("voice.bin", &bytes);
    let out = Command::new(python)
        .arg(script("tuspy_client.py"))
        .args([&server.url("/v1/tus/"), &server.token])
        .arg(&file)
        .arg("voice.ogg")
        .output()
        .unwrap();
    let result = last_json(&out);
    assert_eq!(result["ok"], true, "{result}\n{}", stderr_of(&out));
    assert_eq!(result["resumedFrom"], (bytes.len() / 2) as u64, "{result}");
    assert_eq!(
        stored(&env)["voice.ogg"],
        (sha256_hex(&bytes), bytes.len() as u64)
    );
    assert!(server.stop());
}

/// The answers tus 1.0 asks for, spoken raw: discovery, creation (with an
/// upload, with a deferred length), offsets, checksums, termination, and
/// what a client that lies or is not allowed gets.
#[test]
fn the_protocol_answers_as_tus_1_0_says() {
    let env = Env::new();
    let server = Served::start(&env, &["--max-size", "1M", "--deny", "text/html"]);
    let token = server.token.clone();
    let reader = token_add(&env, "reader", true);
    let other = token_add(&env, "other", false);
    // Discovery needs no token.
    let (status, body) = curl_status(&["-X", "OPTIONS", "-D", "-", &server.url("/v1/tus/")]);
    assert_eq!(status, 204, "{body}");
    let body = body.to_ascii_lowercase();
    for said in [
        "tus-version: 1.0.0",
        "tus-max-size: 1048576",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "expiration",
        "checksum",
        "tus-checksum-algorithm: sha256",
    ] {
        assert!(body.contains(said), "{said}: {body}");
    }
    let endpoint = server.url("/v1/tus/");
    // Without the version: 412, saying which.
    let (status, _) = curl_status(&[
        "-X",
        "POST",
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-H",
        "Upload-Length: 5",
        &endpoint,
    ]);
    assert_eq!(status, 412);
    let (status, _) = tus(&server, &token, &["-X", "POST", &endpoint]);
    assert_eq!(status, 400, "no length");
    let (status, _) = tus(
        &server,
        &token,
        &["-X", "POST", "-H", "Upload-Length: 2000000", &endpoint],
    );
    assert_eq!(status, 413, "over --max-size before any byte");
    let (status, _) = tus(
        &server,
        &reader,
        &["-X", "POST", "-H", "Upload-Length: 5", &endpoint],
    );
    assert_eq!(status, 403, "a read token");

    // Creation with an upload: the first bytes in the POST.
    let (status, headers) = tus(
        &server,
        &token,
        &[
            "-X",
            "POST",
            "-H",
            "Upload-Length: 6",
            "-H",
            "Upload-Metadata: filename YWJjZGVmLnR4dA==",
            "-H",
            "Content-Type: application/offset+octet-stream",
            "--data-binary",
            "abc",
            &endpoint,
        ],
    );
    assert_eq!(status, 201, "{headers:?}");
    assert_eq!(headers["upload-offset"], "3");
    assert!(headers.contains_key("upload-expires"), "{headers:?}");
    let url = server.url(&headers["location"]);
    // Another token's upload does not exist for it.
    assert_eq!(head(&server, &other, &url).0, 404);
    assert_eq!(head(&server, &reader, &url).0, 404);
    // A piece not sent as one.
    let (status, _) = tus(
        &server,
        &token,
        &[
            "-X",
            "PATCH",
            "-H",
            "Upload-Offset: 3",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            "def",
            &url,
        ],
    );
    assert_eq!(status, 415);
    // A client that lies about the offset, or would change bytes the
    // server acknowledged: 409, nothing changed.
    let (status, headers) = patch(&server, &token, &url, 0, b"XYZ", &[]);
    assert_eq!((status, headers["upload-offset"].as_str()), (409, "3"));
    let (status, _) = patch(&server, &token, &url, 5, b"f", &[]);
    assert_eq!(status, 409);
    // A piece that is not what its checksum says: 460, not kept.
    let wrong = format!(
        "Upload-Checksum: sha256 {}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    );
    let (status, _) = patch(&server, &token, &url, 3, b"def", &["-H", &wrong]);
    assert_eq!(status, 460);
    assert_eq!(head(&server, &token, &url).1["upload-offset"], "3");
    let (status, _) = patch(
        &server,
        &token,
        &url,
        3,
        b"def",
        &["-H", "Upload-Checksum: md5 abc="],
    );
    assert_eq!(status, 400, "an algorithm not offered");
    let right = format!(
        "Upload-Checksum: sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(hex_bytes(&sha256_hex(b"def")))
    );
    // Past its length: refused, not kept.
    let (status, _) = patch(&server, &token, &url, 3, b"defg", &[]);
    assert_eq!(status, 400);
    let (status, headers) = patch(&server, &token, &url, 3, b"def", &["-H", &right]);
    assert_eq!(status, 204, "{headers:?}");
    assert_eq!(headers["upload-offset"], "6");
    assert_eq!(headers["x-ingest-status"], "new");
    assert_eq!(headers["x-ingest-sha256"], sha256_hex(b"abcdef"));
    assert_eq!(stored(&env)["abcdef.txt"].0, sha256_hex(b"abcdef"));
    // Complete: HEAD says so; another piece is a conflict.
    let (status, headers) = head(&server, &token, &url);
    assert_eq!((status, headers["upload-offset"].as_str()), (200, "6"));
    assert_eq!(headers["upload-length"], "6");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(patch(&server, &token, &url, 6, b"g", &[]).0, 409);

    // A deferred length, said with the last piece.
    let (status, headers) = tus(
        &server,
        &token,
        &["-X", "POST", "-H", "Upload-Defer-Length: 1", &endpoint],
    );
    assert_eq!(status, 201);
    let url = server.url(&headers["location"]);
    let (status, headers) = patch(&server, &token, &url, 0, b"later ", &[]);
    assert_eq!(
        (status, headers["upload-defer-length"].as_str()),
        (204, "1")
    );
    let (status, _) = patch(
        &server,
        &token,
        &url,
        6,
        b"known",
        &["-H", "Upload-Length: 11"],
    );
    assert_eq!(status, 204);
    assert_eq!(stored(&env)["upload"].0, sha256_hex(b"later known"));

    // A deferred length that grows past --max-size: 413, and it is gone.
    let (_, headers) = tus(
        &server,
        &token,
        &["-X", "POST", "-H", "Upload-Defer-Length: 1", &endpoint],
    );
    let url = server.url(&headers["location"]);
    let (status, _) = patch(&server, &token, &url, 0, &noise(1_100_000, 3), &[]);
    assert_eq!(status, 413);
    assert_eq!(head(&server, &token, &url).0, 404);

    // Termination.
    let url = create(&server, &token, 10, "given-up.bin");
    assert_eq!(patch(&server, &token, &url, 0, b"12345", &[]).0, 204);
    assert_eq!(tus(&server, &token, &["-X", "DELETE", &url]).0, 204);
    assert_eq!(head(&server, &token, &url).0, 404);

    // Refused by the policy once whole: the answer a PUT would get, and
    // nothing kept.
    let page = b"<!DOCTYPE html><html><body>hi</body></html>\n";
    let url = create(&server, &token, page.len(), "page.html");
    let (status, _) = patch(&server, &token, &url, 0, page, &[]);
    assert_eq!(status, 415);
    assert_eq!(head(&server, &token, &url).0, 404);
    assert!(!stored(&env).contains_key("page.html"));
    assert!(server.stop());
    let leftovers: Vec<PathBuf> = files_under(&env.store().join("uploads"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e != "json"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    env.assert_store_valid();
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A 200 MB upload through a proxy that cuts its connection 20 times at
/// seeded places: tus-js-client resumes each time from the server's
/// offset, the object is byte-exact, and what crossed the network towards
/// the server is within 5% of the file's size (only what was in flight at
/// each cut is sent again).
#[test]
fn a_connection_cut_20_times_resumes_each_time_and_sends_little_twice() {
    let seed = test_seed();
    println!("seed {seed} (INGEST_TEST_SEED={seed} replays it)");
    let (_, python) = clients();
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let size = 200usize << 20;
    let bytes = noise(size, seed);
    let file = env.write("long-video.bin", &bytes);
    drop(bytes);
    let port = crate::harness::s3::free_port();
    let state = env.path().join("cutter.json");
    let mut proxy = Command::new(python)
        .arg(script("cutter.py"))
        .args([
            port.to_string(),
            server.port.to_string(),
            (seed % 1_000_000).to_string(),
            "20".into(),
            size.to_string(),
        ])
        .arg(&state)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let proxied = format!("http://127.0.0.1:{port}/v1/tus/");
    std::thread::sleep(Duration::from_millis(300));
    let out = node(&proxied, &server.token, &file, "long-video.bin", "retrying")
        .env("TUS_CHUNK", "0")
        .output()
        .unwrap();
    let _ = proxy.kill();
    let _ = proxy.wait();
    let result = last_json(&out);
    assert_eq!(
        result["ok"],
        true,
        "seed {seed}: {result}\n{}",
        stderr_of(&out)
    );
    let cut: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(cut["cuts"], 20, "seed {seed}: {cut}");
    let forwarded = cut["forwarded"].as_u64().unwrap();
    assert!(
        forwarded <= size as u64 + size as u64 / 20,
        "seed {seed}: {forwarded} bytes sent for {size}"
    );
    assert_eq!(
        stored(&env)["long-video.bin"],
        (sha256_file(&file), size as u64),
        "seed {seed}"
    );
    assert!(server.stop());
}

/// The server killed (SIGKILL) at seeded moments while ten uploads are
/// under way, and started again on the same port each time: every upload
/// resumes (tus-js-client retrying) to the right object.
#[test]
fn a_server_killed_at_random_moments_resumes_every_upload() {
    let seed = test_seed();
    println!("seed {seed} (INGEST_TEST_SEED={seed} replays it)");
    let mut rng = Moments(seed);
    let env = Env::new();
    let token = token_add(&env, "phone", false);
    let port = crate::harness::s3::free_port();
    let start = || -> Child {
        env.cmd(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let wait_up = || {
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the server did not come back");
    };
    let mut server = start();
    wait_up();
    let endpoint = format!("http://127.0.0.1:{port}/v1/tus/");
    let mut expected = Vec::new();
    let mut clients = Vec::new();
    for i in 0..10 {
        let bytes = noise((4 << 20) + i * 1000, seed ^ i as u64);
        let file = env.write(format!("up/f{i}.bin"), &bytes);
        expected.push((format!("f{i}.bin"), sha256_hex(&bytes), bytes.len() as u64));
        let client = node(&endpoint, &token, &file, &format!("f{i}.bin"), "retrying")
            .env("TUS_CHUNK", "262144")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        clients.push(client);
    }
    for kill in 0..4 {
        std::thread::sleep(Duration::from_millis(100 + rng.next_below(700)));
        let _ = server.kill();
        let _ = server.wait();
        std::thread::sleep(Duration::from_millis(rng.next_below(300)));
        server = start();
        wait_up();
        println!("kill {kill} done");
    }
    for (i, client) in clients.into_iter().enumerate() {
        let out = client.wait_with_output().unwrap();
        let result = last_json(&out);
        assert_eq!(
            result["ok"],
            true,
            "seed {seed}: upload {i}: {result}\n{}",
            stderr_of(&out)
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    let found = stored(&env);
    for (name, sha, size) in expected {
        assert_eq!(found[&name], (sha, size), "seed {seed}: {name}");
    }
    assert_eq!(found.len(), 10, "seed {seed}: {found:?}");
    // A SIGKILL while an upload was being passed may leave its temp file
    // (docs/guarantees.md: SIGKILL can leave one in tmp/); gc takes it.
    ok(env.cmd(["-q", "gc", "--older-than", "0s"]));
    env.assert_store_valid();
}

/// Partials count against a budget per token, expire, and gc removes the
/// abandoned ones; `ingest uploads ls` shows what is under way.
#[test]
fn partials_are_bounded_listed_expired_and_collected() {
    let env = Env::new();
    let server = Served::start(&env, &["--max-partial", "1M", "--partial-expiry", "3s"]);
    let token = server.token.clone();
    let url = create(&server, &token, 600_000, "half.bin");
    assert_eq!(
        patch(&server, &token, &url, 0, &noise(300_000, 4), &[]).0,
        204
    );
    // Over the token's budget: a clear 413, nothing made.
    let (status, _) = tus(
        &server,
        &token,
        &[
            "-X",
            "POST",
            "-H",
            "Upload-Length: 500000",
            &server.url("/v1/tus/"),
        ],
    );
    assert_eq!(status, 413);
    let out = ok(env.cmd(["--json", "uploads", "ls"]));
    let listed = json_lines(&out);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["offset"], 300_000);
    assert_eq!(listed[0]["length"], 600_000);
    assert_eq!(listed[0]["token"], "tester");
    assert_eq!(listed[0]["name"], "half.bin");
    // Untouched past --partial-expiry: gone for the server.
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(head(&server, &token, &url).0, 404);
    assert!(ok(env.cmd(["--json", "uploads", "ls"])).stdout.is_empty());
    // gc gives up one untouched for a day (here: --older-than).
    let url = create(&server, &token, 600_000, "abandoned.bin");
    assert_eq!(patch(&server, &token, &url, 0, &noise(1000, 5), &[]).0, 204);
    assert!(server.stop());
    let out = ok(env.cmd(["gc"]));
    assert!(
        !stdout_of(&out).contains("unfinished upload"),
        "{}",
        stdout_of(&out)
    );
    let out = ok(env.cmd(["gc", "--older-than", "0s"]));
    assert!(
        stdout_of(&out).contains("unfinished upload"),
        "{}",
        stdout_of(&out)
    );
    assert!(files_under(&env.store().join("uploads")).is_empty());
}

/// A disk that fills mid-upload: 507, the partial stays as the client was
/// last told, and the upload resumes to the right object once there is
/// room.
#[test]
fn a_full_disk_mid_partial_answers_507_and_the_upload_resumes() {
    let env = Env::new();
    std::fs::create_dir_all(env.store()).unwrap();
    let _mount = crate::harness::tmpfs(&env.store(), "3m");
    let server = Served::start(&env, &[]);
    let token = server.token.clone();
    let bytes = noise(5 << 20, 6);
    let url = create(&server, &token, bytes.len(), "big.bin");
    let (status, headers) = patch(&server, &token, &url, 0, &bytes, &[]);
    assert_eq!(status, 507, "{headers:?}: {}", server.log());
    let (_, headers) = head(&server, &token, &url);
    let offset: usize = headers["upload-offset"].parse().unwrap();
    assert!(offset < bytes.len());
    // Room again: the rest goes from where the server is.
    let out = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(env.store())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (status, headers) = patch(&server, &token, &url, offset as u64, &bytes[offset..], &[]);
    assert_eq!(status, 204, "{headers:?}");
    assert_eq!(
        stored(&env)["big.bin"],
        (sha256_hex(&bytes), bytes.len() as u64)
    );
    assert!(server.stop());
    env.assert_store_valid();
    let _ = file_arg;
}

/// tus-js-client speaking the IETF draft (interop versions 6 and 5, its
/// `ietf-draft-05` and `ietf-draft-03`): interrupted and resumed.
#[test]
fn tus_js_client_resumes_over_the_ietf_draft_too() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let bytes = noise(6 << 20, 7);
    let file = env.write("draft.bin", &bytes);
    for protocol in ["ietf-draft-05", "ietf-draft-03"] {
        let name = format!("{protocol}.bin");
        let out = node(
            &server.url("/v1/tus/"),
            &server.token,
            &file,
            &name,
            "interrupted",
        )
        .env("TUS_PROTOCOL", protocol)
        .output()
        .unwrap();
        let result = last_json(&out);
        assert_eq!(
            result["ok"],
            true,
            "{protocol}: {result}\n{}",
            stderr_of(&out)
        );
        assert!(
            result["resumedFrom"].as_u64().unwrap() > 0,
            "{protocol}: {result}"
        );
        assert_eq!(
            stored(&env)[&name],
            (sha256_hex(&bytes), bytes.len() as u64)
        );
    }
    assert!(server.stop());
}

/// The draft spoken raw (interop version 6): creation, offset retrieval,
/// append, completion with the target's own answer, a whole upload in
/// its creation, and the draft's errors as problem types.
#[test]
fn the_ietf_draft_is_spoken_as_it_says() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let token = server.token.clone();
    let draft = "Upload-Draft-Interop-Version: 6";
    let endpoint = server.url("/v1/tus/");
    let (status, headers) = tus(
        &server,
        &token,
        &[
            "-X",
            "POST",
            "-H",
            draft,
            "-H",
            "Upload-Complete: ?0",
            "-H",
            "Upload-Length: 10",
            &endpoint,
        ],
    );
    assert_eq!(status, 201, "{headers:?}");
    assert_eq!(headers["upload-draft-interop-version"], "6");
    assert!(!headers.contains_key("tus-resumable"), "{headers:?}");
    let url = server.url(&headers["location"]);
    let piece = [
        "-H",
        draft,
        "-H",
        "Content-Type: application/partial-upload",
    ];
    let (status, headers) = patch(
        &server,
        &token,
        &url,
        0,
        b"01234",
        &[&piece[..], &["-H", "Upload-Complete: ?0"]].concat(),
    );
    assert_eq!(status, 204, "{headers:?}");
    // Offset retrieval: 204, the offset, not complete, never cached.
    let (status, headers) = tus(&server, &token, &["-I", "-H", draft, &url]);
    assert_eq!(status, 204);
    assert_eq!(headers["upload-offset"], "5");
    assert_eq!(headers["upload-complete"], "?0");
    assert_eq!(headers["cache-control"], "no-store");
    // A mismatching offset: 409, the draft's problem type.
    let out = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "PATCH",
            "-H",
            &format!("Authorization: Bearer {token}"),
            "-H",
            draft,
        ])
        .args([
            "-H",
            "Content-Type: application/partial-upload",
            "-H",
            "Upload-Offset: 2",
        ])
        .args([
            "-H",
            "Upload-Complete: ?0",
            "--data-binary",
            "xx",
            "-w",
            "\n%{http_code}\n%{content_type}",
            &url,
        ])
        .output()
        .unwrap();
    let text = stdout_of(&out);
    let mut lines = text.lines();
    let body: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(lines.next(), Some("409"));
    assert_eq!(lines.next(), Some("application/problem+json"));
    assert_eq!(
        body["type"],
        "https://iana.org/assignments/http-problem-types#mismatching-upload-offset"
    );
    // Said complete short of its length: inconsistent, not kept.
    let (status, _) = patch(
        &server,
        &token,
        &url,
        5,
        b"56",
        &[&piece[..], &["-H", "Upload-Complete: ?1"]].concat(),
    );
    assert_eq!(status, 400);
    let (_, headers) = tus(&server, &token, &["-I", "-H", draft, &url]);
    assert_eq!(headers["upload-offset"], "5");
    // Append and complete: the answer a PUT would get.
    let (status, headers) = patch(
        &server,
        &token,
        &url,
        5,
        b"56789",
        &[&piece[..], &["-H", "Upload-Complete: ?1"]].concat(),
    );
    assert_eq!(status, 201, "{headers:?}");
    assert_eq!(headers["upload-complete"], "?1");
    assert_eq!(stored(&env)["upload"].0, sha256_hex(b"0123456789"));
    let (status, headers) = tus(&server, &token, &["-I", "-H", draft, &url]);
    assert_eq!((status, headers["upload-complete"].as_str()), (204, "?1"));
    let (status, _) = patch(
        &server,
        &token,
        &url,
        10,
        b"x",
        &[&piece[..], &["-H", "Upload-Complete: ?1"]].concat(),
    );
    assert_eq!(status, 409, "completed-upload");
    // A whole upload in its creation, of its own type, its name in the
    // metadata.
    let (status, headers) = tus(
        &server,
        &token,
        &[
            "-X",
            "POST",
            "-H",
            draft,
            "-H",
            "Upload-Complete: ?1",
            "-H",
            "Upload-Metadata: filename d2hvbGUudHh0",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            "whole in one go",
            &endpoint,
        ],
    );
    assert_eq!(status, 201, "{headers:?}");
    assert!(headers.contains_key("location"));
    assert_eq!(stored(&env)["whole.txt"].0, sha256_hex(b"whole in one go"));
    // Cancellation.
    let (_, headers) = tus(
        &server,
        &token,
        &[
            "-X",
            "POST",
            "-H",
            draft,
            "-H",
            "Upload-Complete: ?0",
            &endpoint,
        ],
    );
    let url = server.url(&headers["location"]);
    assert_eq!(
        tus(&server, &token, &["-X", "DELETE", "-H", draft, &url]).0,
        204
    );
    assert_eq!(tus(&server, &token, &["-I", "-H", draft, &url]).0, 404);
    // Neither protocol said: 412.
    let (status, _) = curl_status(&[
        "-X",
        "POST",
        "-H",
        &format!("Authorization: Bearer {token}"),
        &endpoint,
    ]);
    assert_eq!(status, 412);
    assert!(server.stop());
}

/// `POST /v1/objects/check`: which of up to 10,000 hashes the store holds.
#[test]
fn a_client_asks_which_files_to_send_in_one_request() {
    let env = Env::new();
    env.write("in/a.bin", &noise(1000, 8));
    env.write("in/b.bin", &noise(1000, 9));
    ok(env.cmd(["-q", "in"]));
    let server = Served::start(&env, &[]);
    let (a, b, c) = (
        sha256_hex(&noise(1000, 8)),
        sha256_hex(&noise(1000, 9)),
        sha256_hex(b"never stored"),
    );
    let check = |body: String| {
        let file = env.write("check.json", body.as_bytes());
        server.json(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", file.display()),
            &server.url("/v1/objects/check"),
        ])
    };
    let (status, answer) = check(format!(
        r#"{{"sha256": ["{a}", "{}", "{c}"]}}"#,
        b.to_uppercase()
    ));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["present"], serde_json::json!([a, b]));
    assert_eq!(answer["missing"], serde_json::json!([c]));
    let (status, answer) = check(r#"{"sha256": ["nope"]}"#.to_owned());
    assert_eq!(status, 400, "{answer}");
    let many: Vec<String> = (0..10_001).map(|_| c.clone()).collect();
    let (status, _) = check(serde_json::json!({ "sha256": many }).to_string());
    assert_eq!(status, 413);
    let (status, _) = check("{}".to_owned());
    assert_eq!(status, 400);
    assert!(server.stop());
}

/// An S3 store behind the server: the partial waits in this machine's
/// spool, and the object goes to the bucket once, whole, when the upload
/// completes.
#[test]
fn a_resumable_upload_into_an_s3_store() {
    let s3 = crate::harness::s3::Server::start();
    let store = crate::harness::s3::store_url("tus");
    let env = Env::new();
    let out = ok(s3.cmd(&store, ["token", "add", "phone"]));
    let token = stdout_of(&out).trim().to_owned();
    let server = Served::start_with(
        s3.cmd(&store, ["serve", "--listen", "127.0.0.1:0"]),
        &[],
        token.clone(),
    );
    let bytes = noise(9 << 20, 11);
    let file = env.write("to-s3.bin", &bytes);
    let out = node(
        &server.url("/v1/tus/"),
        &token,
        &file,
        "to-s3.bin",
        "interrupted",
    )
    .output()
    .unwrap();
    let result = last_json(&out);
    assert_eq!(result["ok"], true, "{result}\n{}", stderr_of(&out));
    // The object is in the bucket, once, and nothing is left unfinished.
    let out = ok(s3.cmd(&store, ["--json", "ls"]));
    let entries = json_lines(&out);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["sha256"], sha256_hex(&bytes));
    let out = ok(s3.cmd(&store, ["--json", "uploads", "ls"]));
    assert!(json_lines(&out).iter().all(|p| p["stored"].is_string()));
    assert!(server.stop());
    let out = s3.cmd(&store, ["--json", "verify"]).output().unwrap();
    assert!(out.status.success(), "{}", stdout_of(&out));
}

/// A duplicate announced by its hash (`Upload-Metadata` `sha256`) is
/// recorded from the store's own copy: its bytes are not sent again.
#[test]
fn a_duplicate_announced_by_its_hash_is_not_sent_again() {
    let env = Env::new();
    let bytes = noise(5 << 20, 13);
    let file = env.write("in/photo.bin", &bytes);
    ok(env.cmd(["-q", "in"]));
    let server = Served::start(&env, &["-v"]);
    let token = server.token.clone();
    let sha = sha256_hex(&bytes);
    let meta = format!(
        "Upload-Metadata: filename {},sha256 {}",
        base64::engine::general_purpose::STANDARD.encode("IMG_0001.bin"),
        base64::engine::general_purpose::STANDARD.encode(&sha)
    );
    let (status, headers) = tus(
        &server,
        &token,
        &[
            "-X",
            "POST",
            "-H",
            &format!("Upload-Length: {}", bytes.len()),
            "-H",
            &meta,
            &server.url("/v1/tus/"),
        ],
    );
    assert_eq!(status, 201, "{headers:?}");
    assert_eq!(headers["upload-offset"], bytes.len().to_string());
    assert_eq!(headers["x-ingest-status"], "duplicate");
    assert_eq!(stored(&env)["IMG_0001.bin"].0, sha);
    // A hash the store does not hold, or a length that is not its object's:
    // the bytes must come.
    let wrong = format!(
        "Upload-Metadata: sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(&sha)
    );
    let (status, headers) = tus(
        &server,
        &token,
        &[
            "-X",
            "POST",
            "-H",
            "Upload-Length: 10",
            "-H",
            &wrong,
            &server.url("/v1/tus/"),
        ],
    );
    assert_eq!(status, 201);
    assert!(!headers.contains_key("upload-offset"), "{headers:?}");
    // tus-js-client, announcing the hash: done without sending the file.
    let out = node(
        &server.url("/v1/tus/"),
        &token,
        &file,
        "IMG_0002.bin",
        "whole",
    )
    .env("TUS_SHA256", &sha)
    .output()
    .unwrap();
    assert_eq!(last_json(&out)["ok"], true, "{}", stderr_of(&out));
    assert_eq!(stored(&env)["IMG_0002.bin"].0, sha);
    let log = server.log();
    assert!(server.stop());
    // bytes_in is what a PATCH declared; it was answered 409 before its
    // body was read, and the client then found the upload complete.
    let declared: u64 = server_bytes_in(&log, "PATCH");
    assert!(declared <= bytes.len() as u64, "{declared}");
    assert!(log.contains("status=409"), "{log}");
}

/// The bytes the server's log says its requests of `method` carried.
fn server_bytes_in(log: &str, method: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains(&format!("method={method}")))
        .filter_map(|l| l.split("bytes_in=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}
