//! `ingest serve` against hostile clients: raw sockets, HTTP/1.1 and HTTP/2
//! clients that send nothing, send slowly, never read, or send bombs, each
//! while a normal client keeps uploading and downloading. The server runs
//! under a 1,024-descriptor limit, as systemd gives a service by default.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::served::{Served, token_add};
use crate::util::*;

/// The server's timeouts here, short so that each attack outlives them.
const TIMEOUTS: &[&str] = &[
    "--header-timeout",
    "2",
    "--idle-timeout",
    "3",
    "--send-timeout",
    "3",
    "--body-timeout",
    "3",
    "--grace",
    "30",
];

/// A server under a 1,024-descriptor limit, with a 4 MB object stored (its
/// SHA-256 returned), a read-only token and a second writer's token.
struct Target {
    server: Served,
    object: String,
    reader: String,
    attacker: String,
}

fn start(env: &Env) -> Target {
    let object = env.write("big.bin", &noise(4 << 20, 7));
    ok(env.cmd([object.as_os_str()]));
    let reader = token_add(env, "reader", true);
    let attacker = token_add(env, "attacker", false);
    let token = token_add(env, "tester", false);
    let mut serve = env.cmd(["serve", "--listen", "127.0.0.1:0"]);
    serve.args(TIMEOUTS);
    let server = Served::start_with(limited(serve), &[], token);
    Target {
        server,
        object: sha256_file(&object),
        reader,
        attacker,
    }
}

/// `cmd` run by prlimit with at most 1,024 open files.
fn limited(cmd: Command) -> Command {
    let mut limited = Command::new("prlimit");
    limited
        .arg("--nofile=1024:1024")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => limited.env(key, value),
            None => limited.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        limited.current_dir(dir);
    }
    limited
}

/// The server's threads and open descriptors now.
fn threads_and_files(pid: u32) -> (usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let files = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (threads, files)
}

/// What a normal client met while an attack went on.
#[derive(Debug, Default)]
struct Met {
    requests: usize,
    /// The longest wait for an answer's first byte.
    slowest: Duration,
    /// The longest request, its whole body included.
    slowest_whole: Duration,
    failures: Vec<String>,
    most_threads: usize,
    most_files: usize,
}

/// curl with `args`: the status, the time to the answer's first byte (for
/// an upload, after its whole body) and the whole time.
fn timed_curl(args: &[&str]) -> (u16, Duration, Duration) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "--max-time", "10"])
        .args(["-w", "%{http_code} %{time_starttransfer} %{time_total}"])
        .args(args)
        .output()
        .unwrap();
    let text = stdout_of(&out);
    let mut fields = text.split_whitespace();
    let status = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut seconds =
        || Duration::from_secs_f64(fields.next().and_then(|s| s.parse().ok()).unwrap_or(99.0));
    let first = seconds();
    (status, first, seconds())
}

/// A normal client uploading (new bytes each time), downloading the
/// object and asking for entries, each request on a new connection, until
/// `stop`; the server's threads and descriptors are sampled meanwhile.
fn normal_client(target: &Target, stop: Arc<AtomicBool>) -> thread::JoinHandle<Met> {
    let put_url = target.server.url("/v1/files/");
    let get_url = target.server.url(&format!("/v1/objects/{}", target.object));
    let entries_url = target.server.url("/v1/entries?limit=5");
    let auth = format!("Authorization: Bearer {}", target.server.token);
    let pid = target.server.pid();
    let dir = tempfile::tempdir().unwrap();
    thread::spawn(move || {
        let mut met = Met::default();
        let mut round = 0u64;
        while !stop.load(Ordering::Relaxed) {
            round += 1;
            let file = dir.path().join("upload.bin");
            std::fs::write(&file, noise(20_000, 1_000 + round)).unwrap();
            let file = file.display().to_string();
            let put = format!("{put_url}normal-{round}.bin");
            let requests: [Vec<&str>; 3] = [
                vec!["-H", &auth, "-T", &file, &put],
                vec!["-H", &auth, &get_url],
                vec!["-H", &auth, &entries_url],
            ];
            for args in requests {
                let (status, first_byte, total) = timed_curl(&args);
                met.requests += 1;
                met.slowest = met.slowest.max(first_byte);
                met.slowest_whole = met.slowest_whole.max(total);
                if !(200..300).contains(&status) || first_byte > Duration::from_secs(1) {
                    let target = args.last().unwrap_or(&"");
                    met.failures.push(format!(
                        "{target} -> {status}, first byte after {first_byte:?}"
                    ));
                }
            }
            let (threads, files) = threads_and_files(pid);
            met.most_threads = met.most_threads.max(threads);
            met.most_files = met.most_files.max(files);
        }
        met
    })
}

/// Runs `attack` (which holds its clients until the returned value is
/// dropped) for `hold` while a normal client works, and checks that every
/// request of the normal client was answered within a second and the
/// server's threads and descriptors stayed bounded.
fn under_attack<T>(target: &Target, what: &str, hold: Duration, attack: impl FnOnce() -> T) {
    let attackers = attack();
    let stop = Arc::new(AtomicBool::new(false));
    let client = normal_client(target, Arc::clone(&stop));
    thread::sleep(hold);
    stop.store(true, Ordering::Relaxed);
    let met = client.join().unwrap();
    drop(attackers);
    eprintln!("{what}: {met:?}");
    assert!(met.requests >= 6, "{what}: too few requests ran: {met:?}");
    assert!(met.failures.is_empty(), "{what}: {:#?}", met.failures);
    // The runtime's pool is at most 16 + 32 + 4 + 16 threads.
    assert!(met.most_threads <= 90, "{what}: {met:?}");
    assert!(met.most_files <= 1000, "{what}: {met:?}");
}

fn connect(port: u16) -> Option<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_nodelay(true).ok()?;
    Some(stream)
}

/// A thread that writes one byte to each stream every `every`, until
/// dropped (what a slowloris does).
struct Trickle {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Trickle {
    fn start(mut streams: Vec<TcpStream>, every: Duration) -> Trickle {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                streams.retain_mut(|s| s.write_all(b"x").is_ok());
                thread::sleep(every);
            }
        });
        Trickle {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Trickle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// HTTP/2 streams asking for `path` with their windows shut: the server
/// may send headers, never a byte of data. Returns the runtime holding them
/// and how many streams got their answer's headers.
fn zero_window_streams(
    port: u16,
    token: &str,
    path: &str,
    connections: usize,
    streams: usize,
) -> (tokio::runtime::Runtime, Arc<AtomicUsize>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let auth = format!("Bearer {token}");
    let uri = format!("http://127.0.0.1:{port}{path}");
    for _ in 0..connections {
        let (auth, uri, answered) = (auth.clone(), uri.clone(), Arc::clone(&answered));
        runtime.spawn(async move {
            let Ok(tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                return;
            };
            let handshake = h2::client::Builder::new()
                .initial_window_size(0)
                .handshake::<_, bytes::Bytes>(tcp)
                .await;
            let Ok((client, connection)) = handshake else {
                return;
            };
            tokio::spawn(connection);
            for _ in 0..streams {
                let (client, auth, uri, answered) = (
                    client.clone(),
                    auth.clone(),
                    uri.clone(),
                    Arc::clone(&answered),
                );
                tokio::spawn(async move {
                    let Ok(mut client) = client.ready().await else {
                        return;
                    };
                    let request = http::Request::get(&uri)
                        .header("authorization", &auth)
                        .body(())
                        .unwrap();
                    let Ok((response, _)) = client.send_request(request, true) else {
                        return;
                    };
                    if let Ok(response) = response.await {
                        answered.fetch_add(1, Ordering::Relaxed);
                        // Held, never read.
                        let _body = response.into_body();
                        std::future::pending::<()>().await;
                    }
                });
            }
        });
    }
    (runtime, answered)
}

#[test]
fn no_client_can_exhaust_or_pin_the_server() {
    let env = Env::new();
    let target = start(&env);
    let port = target.server.port;
    let hold = Duration::from_secs(6);

    under_attack(&target, "1,000 idle connections", hold, || {
        (0..1000).filter_map(|_| connect(port)).collect::<Vec<_>>()
    });
    under_attack(&target, "200 half HTTP/2 prefaces", hold, || {
        (0..200)
            .filter_map(|_| {
                let mut s = connect(port)?;
                s.write_all(b"PRI * HTTP/2.0\r\n").ok()?;
                Some(s)
            })
            .collect::<Vec<_>>()
    });
    under_attack(&target, "200 slow heads", hold, || {
        let streams = (0..200)
            .filter_map(|_| {
                let mut s = connect(port)?;
                s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    .ok()?;
                Some(s)
            })
            .collect();
        Trickle::start(streams, Duration::from_millis(500))
    });
    let attacker = target.attacker.clone();
    under_attack(&target, "200 slow bodies", hold, || {
        let streams = (0..200)
            .filter_map(|i| {
                let mut s = connect(port)?;
                let head = format!(
                    "PUT /v1/files/slow-{i}.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {attacker}\r\nContent-Length: 1000000\r\n\r\n"
                );
                s.write_all(head.as_bytes()).ok()?;
                Some(s)
            })
            .collect();
        Trickle::start(streams, Duration::from_millis(500))
    });
    let (object, reader) = (target.object.clone(), target.reader.clone());
    under_attack(&target, "200 clients that never read", hold, || {
        (0..200)
            .filter_map(|_| {
                let mut s = connect(port)?;
                let head = format!(
                    "GET /v1/objects/{object} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {reader}\r\n\r\n"
                );
                s.write_all(head.as_bytes()).ok()?;
                Some(s)
            })
            .collect::<Vec<_>>()
    });
    let path = format!("/v1/objects/{}", target.object);
    let answered = Arc::new(AtomicUsize::new(0));
    under_attack(&target, "600 zero-window HTTP/2 streams", hold, || {
        let (runtime, count) = zero_window_streams(port, &target.reader, &path, 3, 200);
        let answered = Arc::clone(&answered);
        thread::spawn(move || {
            thread::sleep(Duration::from_secs(2));
            answered.store(count.load(Ordering::Relaxed), Ordering::Relaxed);
        });
        runtime
    });
    // The streams were served as far as their windows allowed: the
    // attack reached the server.
    assert!(
        answered.load(Ordering::Relaxed) >= 3,
        "no stream was answered"
    );

    // Each kind of attacker was dropped, not merely outlasted: after its
    // timeout the server holds none of their connections.
    // The blocking pool's idle threads go 2 s after the last use.
    let pid = target.server.pid();
    crate::harness::eventually(
        Duration::from_secs(10),
        "the attacks' threads and descriptors going",
        || {
            let (threads, files) = threads_and_files(pid);
            threads < 24 && files < 48
        },
    );
    env.assert_store_valid();

    // SIGTERM closes idle and half-open connections at once, though the
    // grace period is 30 s.
    let idle: Vec<_> = (0..50).filter_map(|_| connect(port)).collect();
    let mut half = connect(port).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    assert!(target.server.stop());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM waited {:?} for idle connections",
        started.elapsed()
    );
    drop((idle, half));
}

/// Sends `head` then `body_len` bytes of `fill` on a raw connection,
/// stopping when the server closes it; returns what the server answered.
fn bomb(port: u16, head: &str, first: &[u8], fill: u8, body_len: usize) -> String {
    let mut s = connect(port).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(first);
    let chunk = vec![fill; 1 << 20];
    let mut sent = first.len();
    while sent < body_len {
        let n = chunk.len().min(body_len - sent);
        if s.write_all(&chunk[..n]).is_err() {
            break;
        }
        sent += n;
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn multipart_bombs_stay_in_bounded_memory() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let token = &server.token;
    let head = |len: usize| {
        format!(
            "POST /v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=BOUND\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    let cases: [(&str, &[u8], u8, usize, &str); 3] = [
        ("no boundary", b"", b'a', 200 << 20, "no boundary"),
        (
            "a huge part header",
            b"--BOUND\r\nX-Huge: ",
            b'a',
            100 << 20,
            "headers are over",
        ),
        ("no CRLF", b"--BOUND", b'a', 300 << 20, "malformed"),
    ];
    for (what, first, fill, len, says) in cases {
        let answer = bomb(server.port, &head(len), first, fill, len);
        assert!(answer.contains(says), "{what}: {answer}");
        assert!(
            answer.contains("application/json"),
            "{what}: not JSON: {answer}"
        );
        let peak = crate::harness::timing::peak_rss_kib(server.pid());
        assert!(peak < 64 << 10, "{what}: peak RSS {} MiB", peak >> 10);
    }
    assert!(env.objects().is_empty());
    assert!(env.tmp_entries().is_empty());
}

/// A multipart body with one part whose Content-Disposition is `disposition`.
fn one_part(disposition: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--XB\r\nContent-Disposition: {disposition}\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XB--\r\n");
    body
}

#[test]
fn a_file_part_is_never_dropped_for_its_name() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let cases = [
        (
            r#"form-data; name="file"; filename="photo.jpg"; filename*=garbage"#,
            "photo.jpg",
        ),
        (
            "form-data; name=\"file\"; filename*=iso-8859-1''r%E9sum%E9.pdf",
            "résumé.pdf",
        ),
    ];
    for (i, (disposition, name)) in cases.into_iter().enumerate() {
        let body = env.write(
            format!("body{i}"),
            &one_part(disposition, &noise(500, 100 + 2 * i as u64)),
        );
        let (status, answer) = server.json(&[
            "-H",
            "Content-Type: multipart/form-data; boundary=XB",
            "--data-binary",
            &format!("@{}", body.display()),
            &server.url("/v1/upload"),
        ]);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["files"][0]["name"], name, "{answer}");
        assert_eq!(answer["files"][0]["status"], "new", "{i}: {answer}");
    }
}

/// The headers of a GET of `hex`, lower-cased.
fn object_headers(server: &Served, hex: &str) -> String {
    let auth = format!("Authorization: Bearer {}", server.token);
    let out = Command::new("curl")
        .args(["-sS", "-D", "-", "-o", "/dev/null", "-H", &auth])
        .arg(server.url(&format!("/v1/objects/{hex}")))
        .output()
        .unwrap();
    stdout_of(&out).to_ascii_lowercase()
}

#[test]
fn no_declared_type_can_make_an_answer_a_page() {
    let env = Env::new();
    // An MMS part whose type holds a list and a newline.
    let bad = noise(300, 77);
    let part = crate::harness::mms_xml::part("text/plain&#10;text/html", "x.dat", &bad);
    let backup = crate::harness::mms_xml::backup(&[crate::harness::mms_xml::mms(
        1_700_000_000_000,
        "+15555550100",
        &[part],
    )]);
    let xml = env.write("backup.xml", &backup);
    ok(env.cmd([std::ffi::OsStr::new("mms"), xml.as_os_str()]));
    let server = Served::start(&env, &[]);
    let listed = noise(400, 78);
    let file = env.write("listed.dat", &listed);
    let (status, answer) = server.json(&[
        "-H",
        "Content-Type: text/plain,text/html",
        "-T",
        &file.display().to_string(),
        &server.url("/v1/files/listed.dat"),
    ]);
    assert_eq!(status, 201, "{answer}");
    for bytes in [&listed, &bad] {
        let headers = object_headers(&server, &sha256_hex(bytes));
        assert!(headers.starts_with("http/1.1 200"), "{headers}");
        assert!(
            headers.contains("content-disposition: attachment"),
            "{headers}"
        );
        assert!(!headers.contains("text/html"), "{headers}");
    }
    for entry in env.manifest() {
        let mime = entry["mime"].as_str().unwrap();
        assert!(!mime.contains(',') && !mime.contains('\n'), "{entry}");
    }
}

#[test]
fn hypers_own_refusals_are_json_too() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    // Past our own limit of a head (answered by the server), a target past
    // hyper's (answered by hyper), a control byte in a header (hyper).
    let heads = [
        format!(
            "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(40_000)
        ),
        format!(
            "GET /v1/health?{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(70_000)
        ),
        "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n".to_owned(),
    ];
    for head in heads {
        let mut s = connect(server.port).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        let status = &answer[..answer.len().min(12)];
        assert!(
            ["HTTP/1.1 400", "HTTP/1.1 414", "HTTP/1.1 431"].contains(&status),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
        let value: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {answer:?}"));
        assert!(value["error"].is_string(), "{answer}");
    }
}

#[test]
fn a_refused_part_names_what_was_not_read() {
    let env = Env::new();
    let server = Served::start(&env, &["--max-size", "1000"]);
    let big = env.write("big.bin", &noise(5000, 1));
    let after = env.write("after.bin", &noise(100, 2));
    let (status, answer) = server.json(&[
        "-F",
        &format!("a=@{}", big.display()),
        "-F",
        &format!("b=@{}", after.display()),
        &server.url("/v1/upload"),
    ]);
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["not_read"].as_str().unwrap().contains("not read"),
        "{answer}"
    );
}

#[test]
fn a_writer_remakes_fan_out_folders_removed_under_it() {
    let env = Env::new();
    let server = Served::start(&env, &[]);
    for round in 0..2u64 {
        let file = env.write(format!("f{round}.bin"), &noise(1000, round));
        let (status, answer) = server.json(&[
            "-T",
            &file.display().to_string(),
            &server.url(&format!("/v1/files/f{round}.bin")),
        ]);
        assert_eq!(status, 201, "round {round}: {answer}");
        for dir in std::fs::read_dir(env.store().join("objects")).unwrap() {
            std::fs::remove_dir_all(dir.unwrap().path()).unwrap();
        }
    }
    // The same fan-out folder again, by the same bytes.
    let again = env.write("again.bin", &noise(1000, 0));
    let (status, answer) = server.json(&[
        "-T",
        &again.display().to_string(),
        &server.url("/v1/files/again.bin"),
    ]);
    assert!(status == 201 || status == 200, "{answer}");
    assert!(env.object(&sha256_hex(&noise(1000, 0))).exists());
}
