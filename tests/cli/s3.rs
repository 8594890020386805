//! S3 stores, against real S3 servers of two engines: SeaweedFS (`weed
//! mini`, installed by .ci/setup into target/s3venv), one per test, on free
//! ports, with its data in the test's temp folder, killed when the test
//! ends; and Ceph's RADOS Gateway (Debian's packages), one small cluster for
//! the whole test run (`tests/rgw/cluster.sh`: it takes 15-20 s to start),
//! stopped when the test process ends, each test under its own prefix. The
//! tests about the engine rather than our logic run on both.

use std::ffi::OsStr;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::eventually;
use crate::harness::s3::*;
use crate::harness::timing::{spawn_fed, timed, wait_with_peak_rss};
use crate::util::*;

/// Each `fn NAME(engine: Engine)` named becomes a module `NAME` with one
/// test per engine, `seaweedfs` and `ceph_rgw`.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn seaweedfs() {
                super::$name(super::Engine::SeaweedFs)
            }
            #[test]
            fn ceph_rgw() {
                super::$name(super::Engine::CephRgw)
            }
        }
    )*};
}

on_both_engines!(
    the_whole_command_set_works,
    two_machines_ingesting_overlapping_trees_at_once_lose_nothing,
    a_server_killed_mid_upload_leaves_no_object_and_a_rerun_completes,
    bad_credentials_unknown_buckets_dead_endpoints_and_foreign_prefixes_fail_clearly,
    a_byte_flipped_in_flight_is_never_stored,
    uploads_are_create_only,
    the_stores_config_json_sets_policy_defaults,
    two_servers_commit_and_pack_at_once_and_every_machine_sees_each_entry_once,
    rm_reaches_every_commit_pack_and_machine,
);

/// The `ls --json` entries of an S3 store.
fn entries(server: &Server, store: &str) -> Vec<serde_json::Value> {
    let out = ok(server.cmd(store, ["--json", "ls"]));
    stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `verify --json` must find no problem; returns its summary.
fn assert_verified(server: &Server, store: &str) -> serde_json::Value {
    let out = server.cmd(store, ["--json", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "verify found problems: {}{}",
        stdout_of(&out),
        stderr_of(&out)
    );
    json_summary(&out)
}

fn the_whole_command_set_works(engine: Engine) {
    let server = Server::start_on(engine);
    let env = Env::new();
    let store = store_url("family/photos");
    let photo = noise(300_000, 1);
    let clip = noise(9 << 20, 2);
    env.write("in/photo.jpg", &photo);
    env.write("in/sub/clip.mp4", &clip);
    env.write("notes.txt", b"notes\n");

    let out = ok(server.cmd(
        &store,
        [env.path().join("in"), env.path().join("notes.txt")],
    ));
    let stdout = stdout_of(&out);
    assert!(stdout.contains(&sha256_hex(&photo)) && stdout.contains(&sha256_hex(&clip)));
    // Again: nothing new, nothing appended.
    let again = ok(server.cmd(&store, ["--json", env.path().join("in").to_str().unwrap()]));
    assert_eq!(json_summary(&again)["new"]["count"], 0);

    let listed = entries(&server, &store);
    assert_eq!(listed.len(), 3);
    let cat = ok(server.cmd(&store, ["cat", &sha256_hex(&clip)[..10]]));
    assert_eq!(cat.stdout, clip);
    let stats = ok(server.cmd(&store, ["--json", "stats"]));
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["objects"], 3);
    assert_eq!(stats["entries"], 3);
    let summary = assert_verified(&server, &store);
    assert_eq!(summary["objects"], 3);
    ok(server.cmd(&store, ["verify", "--quick"]));

    let dest = env.path().join("exported");
    ok(server.cmd(&store, ["export", dest.to_str().unwrap()]));
    assert_eq!(std::fs::read(dest.join("clip.mp4")).unwrap(), clip);
    assert_eq!(std::fs::read(dest.join("photo.jpg")).unwrap(), photo);

    let out = ok(server.cmd(&store, ["gc", "--orphans"]));
    assert_says(&stderr_of(&out), "gc: 0 files");

    // An MMS backup, and the admission policy, on the same store.
    let png = std::fs::read(format!(
        "{}/tests/fixtures/media/photo.png",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let xml = format!(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"1\"><mms date=\"5\" address=\"+1\" msg_box=\"1\"><parts><part seq=\"0\" ct=\"image/png\" name=\"duck.png\" data=\"{b64}\" /></parts></mms></smses>\n"
    );
    env.write("sms.xml", xml.as_bytes());
    ok(server.cmd(
        &store,
        ["mms", env.path().join("sms.xml").to_str().unwrap()],
    ));
    ok(server.cmd(
        &store,
        ["mms", env.path().join("sms.xml").to_str().unwrap()],
    ));
    let listed = entries(&server, &store);
    assert_eq!(listed.len(), 4, "the second mms run adds nothing");
    assert_eq!(listed[3]["origin"]["date"], 5);
    env.write("big.bin", &noise(2 << 20, 3));
    let out = server
        .cmd(
            &store,
            [
                "--max-size",
                "1M",
                env.path().join("big.bin").to_str().unwrap(),
            ],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_verified(&server, &store);
}

/// Small inputs wait for their upload in memory, larger ones in a spool
/// file: sizes on either side of the limit (64 KiB), from files and from a
/// pipe, all come back byte for byte.
#[test]
fn inputs_either_side_of_the_in_memory_limit_round_trip() {
    let server = Server::start();
    let env = Env::new();
    let store = store_url("edges");
    let sizes = [0, 1, 65_535, 65_536, 65_537, 300_000];
    let inputs: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| noise(len, 40 + i as u64))
        .collect();
    for (i, bytes) in inputs.iter().enumerate() {
        env.write(format!("in/f{i}.bin"), bytes);
    }
    ok(server.cmd(&store, [env.path().join("in")]));
    let piped = noise(65_537, 99);
    with_stdin(
        server.cmd(&store, ["--name", "piped.bin", "-"]),
        piped.clone(),
    )
    .assert()
    .success();

    for bytes in inputs.iter().chain([&piped]) {
        let cat = ok(server.cmd(&store, ["cat", &sha256_hex(bytes)]));
        assert_eq!(cat.stdout.len(), bytes.len());
        assert!(
            cat.stdout == *bytes,
            "{} bytes came back changed",
            bytes.len()
        );
    }
    assert_eq!(entries(&server, &store).len(), sizes.len() + 1);
    assert_verified(&server, &store);
    assert!(
        files_under(&server.path().join("cache"))
            .iter()
            .all(|p| p.extension().is_none_or(|e| e != "spool")),
        "a spool file was left"
    );
}

#[test]
fn copy_moves_a_store_to_s3_and_back_byte_for_byte() {
    let server = Server::start();
    let env = Env::new();
    for i in 0..5 {
        env.write(format!("in/f{i}.bin"), &noise(50_000 * (i + 1), i as u64));
    }
    env.write("in/big.bin", &noise(10 << 20, 9));
    ok(env.cmd(["in"]));
    // A deletion, recorded by the next walk: it goes along with the copies.
    std::fs::remove_file(env.path().join("in/f0.bin")).unwrap();
    ok(env.cmd(["in"]));
    let store = store_url("moved");
    let up = ok(server.cmd(&store, ["copy", env.store().to_str().unwrap(), &store]));
    assert_says(&stderr_of(&up), "6 objects copied");
    let again = ok(server.cmd(&store, ["copy", env.store().to_str().unwrap(), &store]));
    assert_says(&stderr_of(&again), "0 objects copied");
    assert_verified(&server, &store);

    let back = env.path().join("back");
    ok(server.cmd(&store, ["copy", &store, back.to_str().unwrap()]));
    for original in env.objects() {
        let rel = original.strip_prefix(env.store()).unwrap();
        assert_eq!(
            std::fs::read(back.join(rel)).unwrap(),
            std::fs::read(&original).unwrap()
        );
    }
    let manifest = |dir: &Path| -> Vec<String> {
        let mut lines: Vec<String> = std::fs::read_to_string(dir.join("manifest.jsonl"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(manifest(&back), manifest(&env.store()));
    ok(bare_cmd().args(["--store", back.to_str().unwrap(), "verify"]));
    let walks = |dir: &Path| files_under(&dir.join("walks")).len();
    assert_eq!((walks(&env.store()), walks(&back)), (1, 1));
    // The tree as it is now, from the bucket and from the copy back.
    for (from, dest) in [
        (store.as_str(), "tree-s3"),
        (back.to_str().unwrap(), "tree-back"),
    ] {
        let dest = env.path().join(dest);
        ok(server.cmd(from, ["-q", "export", "--tree", dest.to_str().unwrap()]));
        let mut names: Vec<String> = files_under(&dest.join("in"))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["big.bin", "f1.bin", "f2.bin", "f3.bin", "f4.bin"],
            "{from}"
        );
    }
}

fn two_machines_ingesting_overlapping_trees_at_once_lose_nothing(engine: Engine) {
    let server = Server::start_on(engine);
    let env = Env::new();
    let mut expected = std::collections::HashSet::new();
    for i in 0..60 {
        let bytes = noise(1000 + i * 997, i as u64);
        // a/ and b/ share files 20..40: same content, same names, other paths.
        if i < 40 {
            env.write(format!("a/f{i}.bin"), &bytes);
            expected.insert((sha256_hex(&bytes), format!("a/f{i}.bin")));
        }
        if i >= 20 {
            env.write(format!("b/f{i}.bin"), &bytes);
            expected.insert((sha256_hex(&bytes), format!("b/f{i}.bin")));
        }
    }
    let store = store_url("shared");
    ok(server.cmd(
        &store,
        [
            "-q",
            "--no-cache",
            env.path().join("a/f0.bin").to_str().unwrap(),
        ],
    ));
    let spawn = |dir: &str| {
        server
            .cmd(
                &store,
                ["-q", "--no-cache", env.path().join(dir).to_str().unwrap()],
            )
            .spawn()
            .unwrap()
    };
    let (mut one, mut two) = (spawn("a"), spawn("b"));
    assert!(one.wait().unwrap().success());
    assert!(two.wait().unwrap().success());
    let root = env.path().canonicalize().unwrap();
    let found: std::collections::HashSet<(String, String)> = entries(&server, &store)
        .iter()
        .map(|e| {
            let source = e["source"].as_str().unwrap();
            let rel = Path::new(source).strip_prefix(&root).unwrap();
            (
                e["sha256"].as_str().unwrap().to_owned(),
                rel.display().to_string(),
            )
        })
        .collect();
    assert_eq!(found, expected);
    assert_eq!(
        entries(&server, &store).len(),
        expected.len(),
        "an entry listed twice"
    );
    let summary = assert_verified(&server, &store);
    assert_eq!(summary["objects"], 60);
}

fn a_server_killed_mid_upload_leaves_no_object_and_a_rerun_completes(engine: Engine) {
    let mut server = Server::start_own(engine);
    let env = Env::new();
    for given in [Given::Named, Given::Piped] {
        let store = store_url(&format!("crash-{given:?}"));
        let (child, big) = big_upload_under_way(&server, &env, &store, given);
        server.kill();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        let err = stderr_of(&out);
        assert!(
            err.contains(&server.endpoint()) && !err.contains(SECRET),
            "{err}"
        );
        assert_no_spool_file_left(&server);
        server.restart();
        let listed = ok(server.cmd(&store, ["--json", "verify"]));
        assert_eq!(
            json_summary(&listed)["objects"],
            1,
            "part of the big file is visible"
        );
        ok(server.cmd(&store, [env.path().join("big.bin")]));
        let cat = ok(server.cmd(&store, ["cat", &sha256_hex(&big)]));
        assert!(cat.stdout == big);
        assert_verified(&server, &store);
    }
}

/// Waits until the server holds an unfinished multipart upload under the
/// store: the readiness signal that a big upload is under way.
fn wait_for_a_multipart_upload(server: &Server, store: &str) {
    eventually(Duration::from_secs(120), "an upload beginning", || {
        let out = ok(server.cmd(store, ["gc", "--dry-run", "--older-than", "0s"]));
        stdout_of(&out).contains("would abort unfinished upload")
    });
}

/// How the big file reaches a run.
#[derive(Clone, Copy, Debug)]
enum Given {
    /// Named: read again for its upload, never spooled.
    Named,
    /// On standard input, which cannot be read twice: spooled.
    Piped,
}

/// A store holding one small file, and a run uploading a 200 MiB one into
/// it, hashed and under way (a multipart upload begun); returns the run
/// and the big file's bytes, also written to `big.bin`.
fn big_upload_under_way(server: &Server, env: &Env, store: &str, given: Given) -> (Child, Vec<u8>) {
    let big = noise(200 << 20, 5);
    env.write("big.bin", &big);
    let small = env.write("small.txt", b"small\n");
    ok(server.cmd(store, [OsStr::new("-q"), small.as_os_str()]));
    let child = match given {
        Given::Named => server
            .cmd(store, [env.path().join("big.bin")])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Given::Piped => {
            let mut cmd = server.cmd(store, ["--name", "big.bin", "-"]);
            let (child, mut stdin) = spawn_fed(cmd.stderr(Stdio::piped()));
            let bytes = big.clone();
            std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &bytes));
            child
        }
    };
    wait_for_a_multipart_upload(server, store);
    (child, big)
}

/// No spool file is left in the machine's cache of the store.
fn assert_no_spool_file_left(server: &Server) {
    let spool = server.path().join("cache/ingest/s3");
    assert!(
        files_under(&spool)
            .iter()
            .all(|p| p.extension().is_none_or(|e| e != "spool")),
        "a spool file was left"
    );
}

#[test]
fn ctrl_c_mid_upload_leaves_no_object_and_no_spool_file() {
    let server = Server::start();
    let env = Env::new();
    for given in [Given::Named, Given::Piped] {
        let store = store_url(&format!("interrupted-{given:?}"));
        let (child, _) = big_upload_under_way(&server, &env, &store, given);
        let killed = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{given:?}");
        assert_no_spool_file_left(&server);
        let verified = assert_verified(&server, &store);
        assert_eq!(verified["objects"], 1, "part of the big file is visible");
    }
}

/// A named file is read again for its upload, not spooled: changed in
/// place after its pass read it and before its upload, it fails alone,
/// named, with nothing of it stored (no object under either content's
/// name, no unfinished upload), while the run's other input is stored; a
/// re-run stores it as it is now.
#[test]
fn a_file_changed_before_its_upload_fails_alone_and_leaves_nothing() {
    let server = Server::start();
    let env = Env::new();
    let store = store_url("changed");
    let before = noise(6 << 20, 7);
    let big = env.write("big.bin", &before);
    // The file first, then standard input, which the run waits on while
    // the file is staged (hashed, its upload not begun: the batch is sent
    // at the end).
    let mut cmd = server.cmd(&store, [big.as_os_str(), OsStr::new("-")]);
    let (child, mut stdin) = spawn_fed(cmd.stderr(Stdio::piped()));
    eventually(Duration::from_secs(60), "the file read whole", || {
        std::fs::read_to_string(format!("/proc/{}/io", child.id()))
            .ok()
            .and_then(|io| {
                io.lines()
                    .find_map(|l| l.strip_prefix("rchar: ")?.parse::<usize>().ok())
            })
            .is_some_and(|read| read >= before.len())
    });
    let mut after = before.clone();
    after[(11 << 19) + 3] ^= 0xff; // in the second part
    let rewrite = std::fs::OpenOptions::new().write(true).open(&big).unwrap();
    std::os::unix::fs::FileExt::write_all_at(
        &rewrite,
        &after[(11 << 19) + 3..][..1],
        (11 << 19) + 3,
    )
    .unwrap();
    std::io::Write::write_all(&mut stdin, b"piped\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("big.bin") && err.contains("changed"), "{err}");
    let listed = entries(&server, &store);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["sha256"], sha256_hex(b"piped\n"));
    let objects = server.keys(&format!("{}/objects/", "changed"));
    for content in [&before, &after] {
        assert!(
            !objects.iter().any(|k| k.ends_with(&sha256_hex(content))),
            "{objects:?}"
        );
    }
    let out = ok(server.cmd(&store, ["gc", "--dry-run", "--older-than", "0s"]));
    assert!(!stdout_of(&out).contains("upload"), "{}", stdout_of(&out));

    ok(server.cmd(&store, [&big]));
    let cat = ok(server.cmd(&store, ["cat", &sha256_hex(&after)]));
    assert!(cat.stdout == after);
    assert_verified(&server, &store);
}

/// Killed with SIGKILL at seeded moments while named files stream up: no
/// object under `objects/` ever fails to hash to its name, gc aborts what
/// the kills left unfinished, and a re-run stores every file.
#[test]
fn sigkill_at_random_moments_of_a_streamed_upload_keeps_every_name_true() {
    let seed = test_seed();
    let mut moments = Moments(seed);
    let server = Server::start();
    let env = Env::new();
    let store = store_url("killed-at-random");
    let files: Vec<(PathBuf, Vec<u8>)> = (0..8u64)
        .map(|i| {
            let bytes = noise((32 << 20) + i as usize * 4099, 2 * i + 1001);
            (env.write(format!("f{i}.bin"), &bytes), bytes)
        })
        .collect();
    // The first run makes the store; the second, whole, says how long a
    // run takes here. The others are killed within its first half.
    ok(server.cmd(&store, [&files[0].0]));
    let started = std::time::Instant::now();
    ok(server.cmd(&store, [&files[1].0]));
    let span = started.elapsed();
    let mut killed_mid_run = 0;
    for (path, _) in &files[2..] {
        let mut child = server
            .cmd(&store, [path])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let after = Duration::from_micros(moments.next_below(span.as_micros() as u64 / 2));
        std::thread::sleep(after); // choosing the moment, not synchronising
        let _ = child.kill();
        if child.wait().unwrap().code().is_none() {
            killed_mid_run += 1;
        }
        for key in server.keys("killed-at-random/objects/") {
            let name = key.rsplit('/').next().unwrap();
            assert_eq!(
                sha256_hex(&server.get(&key)),
                name,
                "seed {seed}: {key} after a kill at {after:?}"
            );
        }
    }
    assert!(
        killed_mid_run >= 3,
        "seed {seed}: {killed_mid_run} runs killed"
    );
    ok(server.cmd(&store, ["gc", "--older-than", "0s"]));
    let out = ok(server.cmd(&store, ["gc", "--dry-run", "--older-than", "0s"]));
    assert!(
        !stdout_of(&out).contains("upload"),
        "seed {seed}: {}",
        stdout_of(&out)
    );
    let paths: Vec<&PathBuf> = files.iter().map(|(p, _)| p).collect();
    ok(server.cmd(&store, paths));
    for (_, bytes) in &files {
        let cat = ok(server.cmd(&store, ["cat", &sha256_hex(bytes)]));
        assert!(cat.stdout == *bytes, "seed {seed}");
    }
    assert_verified(&server, &store);
}

#[test]
fn gc_aborts_the_multipart_upload_of_a_killed_run_once_it_is_old_enough() {
    let server = Server::start();
    let env = Env::new();
    let store = store_url("killed");
    let (mut child, big) = big_upload_under_way(&server, &env, &store, Given::Named);
    child.kill().unwrap();
    child.wait().unwrap();
    let key = format!("objects/{}/{}", &sha256_hex(&big)[..2], sha256_hex(&big));

    // A day is the default age: a fresh upload may be another machine's.
    let out = ok(server.cmd(&store, ["gc", "--dry-run"]));
    assert!(!stdout_of(&out).contains("upload"), "{}", stdout_of(&out));
    let out = ok(server.cmd(&store, ["gc", "--dry-run", "--older-than", "0s"]));
    assert!(
        stdout_of(&out).contains(&format!("would abort unfinished upload s3://{BUCKET}/"))
            && stdout_of(&out).contains(&key),
        "{}",
        stdout_of(&out)
    );
    let out = ok(server.cmd(&store, ["gc", "--older-than", "0s"]));
    assert!(
        stdout_of(&out).contains("aborted unfinished upload")
            && stderr_of(&out).contains("aborted 1 unfinished uploads"),
        "{}{}",
        stdout_of(&out),
        stderr_of(&out)
    );
    // The server no longer lists it.
    let out = ok(server.cmd(&store, ["gc", "--dry-run", "--older-than", "0s"]));
    assert!(!stdout_of(&out).contains("upload"), "{}", stdout_of(&out));

    ok(server.cmd(&store, [env.path().join("big.bin")]));
    assert_verified(&server, &store);
}

fn bad_credentials_unknown_buckets_dead_endpoints_and_foreign_prefixes_fail_clearly(
    engine: Engine,
) {
    let server = Server::start_on(engine);
    let env = Env::new();
    let file = env.write("a.txt", b"a\n");
    let file = file.to_str().unwrap();

    let out = server
        .cmd(&store_url("x"), [file])
        .env("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains(&server.endpoint()) && err.contains(BUCKET),
        "{err}"
    );
    assert!(
        !err.contains("wrong-secret-value") && !err.contains(SECRET),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = server
        .cmd("s3://no-such-bucket/x", [file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_says(&stderr_of(&out), "no-such-bucket");

    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = server
        .cmd(&store_url("x"), [file])
        .env("AWS_ENDPOINT_URL", &dead)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains(&dead) && err.contains("no answer"), "{err}");

    ok(server.cmd(&store_url("real"), [file]));
    let out = server
        .cmd(&store_url("real/objects"), [file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_says(&stderr_of(&out), "not an ingest store");
    assert_verified(&server, &store_url("real"));
}

#[test]
fn a_1gib_stdin_upload_stays_under_64mib() {
    let server = Server::start();
    let store = store_url("big");
    let report = server.path().join("peak-rss");
    let inner = server.cmd(&store, ["-q", "--name", "big.bin", "-"]);
    let (child, mut stdin) = spawn_fed(&mut timed(&inner, &report));
    let block = noise(1 << 20, 8);
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    for _ in 0..1024 {
        std::io::Write::write_all(&mut stdin, &block).unwrap();
        sha2::Digest::update(&mut hasher, &block);
    }
    drop(stdin);
    let (code, peak) = wait_with_peak_rss(child, &report);
    assert_eq!(code, Some(0));
    let listed = entries(&server, &store);
    assert_eq!(listed[0]["sha256"], hex(&sha2::Digest::finalize(hasher)));
    assert_eq!(listed[0]["size"], 1u64 << 30);
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

/// A tree of large files (each read again for its upload, sixteen objects
/// uploading at once) stays small too: the request bodies all uploads
/// hold are bounded together (175 MiB here before they were).
#[test]
fn a_tree_of_large_files_stays_small() {
    let server = Server::start();
    let env = Env::new();
    let store = store_url("large-tree");
    for i in 0..24 {
        env.write(
            format!("tree/f{i}.bin"),
            &noise((12 << 20) + i, 40 + 2 * i as u64),
        );
    }
    let report = server.path().join("peak-rss");
    let inner = server.cmd(
        &store,
        [OsStr::new("-q"), env.path().join("tree").as_os_str()],
    );
    let child = timed(&inner, &report).spawn().unwrap();
    let (code, peak) = wait_with_peak_rss(child, &report);
    assert_eq!(code, Some(0));
    assert_eq!(entries(&server, &store).len(), 24);
    // A generous bound for the test's debug build (45 MiB in release,
    // 67 MiB seen in debug under a full test run), far below the 175 MiB
    // of the unbounded uploads.
    assert!(peak < 96 * 1024, "peak RSS {peak} KiB");
    assert_verified(&server, &store);
}

/// The removal rule on S3, where no flock exists: two writers and gc runs
/// at once, over a store whose objects were orphaned (their segments lost),
/// lose nothing: gc never removes what a writer in progress has uploaded or
/// found present (its lock object keeps gc out).
#[test]
fn gc_beside_two_writers_loses_nothing() {
    let server = Server::start();
    let env = Env::new();
    let mut expected = std::collections::HashSet::new();
    for i in 0..120 {
        let bytes = noise(800 + i * 211, 500 + i as u64);
        if i < 80 {
            env.write(format!("a/f{i}.bin"), &bytes);
            expected.insert(sha256_hex(&bytes));
        }
        if i >= 40 {
            env.write(format!("b/f{i}.bin"), &bytes);
            expected.insert(sha256_hex(&bytes));
        }
    }
    let store = store_url("gc-race");
    let dir = |d: &str| env.path().join(d).to_str().unwrap().to_owned();
    ok(server.cmd(&store, ["-q", "--no-cache", &dir("a")]));
    server.remove_folder("gc-race/manifest");
    assert!(entries(&server, &store).is_empty());
    let spawn = |d: &str| {
        server
            .cmd(&store, ["-q", "--no-cache", &dir(d)])
            .spawn()
            .unwrap()
    };
    let (mut one, mut two) = (spawn("a"), spawn("b"));
    let mut gcs = 0;
    while one.try_wait().unwrap().is_none() || two.try_wait().unwrap().is_none() {
        let gc = server
            .cmd(&store, ["-q", "gc", "--orphans", "--older-than", "0s"])
            .output()
            .unwrap();
        assert!(gc.status.success(), "gc: {}", stderr_of(&gc));
        gcs += 1;
    }
    assert!(one.wait().unwrap().success());
    assert!(two.wait().unwrap().success());
    assert!(gcs > 0);
    ok(server.cmd(&store, ["-q", "gc", "--orphans", "--older-than", "0s"]));
    let stored: std::collections::HashSet<String> = entries(&server, &store)
        .iter()
        .map(|e| e["sha256"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, expected);
    let summary = assert_verified(&server, &store);
    assert_eq!(summary["objects"], 120);
}

/// A TCP proxy in front of an S3 server that flips one byte in the body of
/// the `nth` object upload (a PUT under `objects/`, counted from 1) passing
/// through it: what a bad NIC, cable or middlebox does now and then.
pub struct FlipProxy {
    port: u16,
    flipped: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FlipProxy {
    pub fn start(upstream: u16, nth: usize) -> FlipProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(AtomicUsize::new(0));
        let flipped = Arc::new(AtomicUsize::new(0));
        let (seen_all, flipped_all) = (Arc::clone(&seen), Arc::clone(&flipped));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (mut back_from, mut back_to) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut back_from, &mut back_to);
                    let _ = back_to.shutdown(std::net::Shutdown::Both);
                });
                let (seen, flipped) = (Arc::clone(&seen_all), Arc::clone(&flipped_all));
                std::thread::spawn(move || {
                    let _ = relay_requests(client, server, |upload| {
                        upload && seen.fetch_add(1, Ordering::SeqCst) + 1 == nth && {
                            flipped.fetch_add(1, Ordering::SeqCst);
                            true
                        }
                    });
                });
            }
        });
        FlipProxy { port, flipped }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many bodies it has damaged.
    pub fn flipped(&self) -> usize {
        self.flipped.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Relays HTTP/1.1 requests (headers, then a Content-Length body) from
/// `client` to `server`; `flip(is_object_upload)` says whether to damage
/// this request's body.
fn relay_requests(
    mut client: TcpStream,
    mut server: TcpStream,
    mut flip: impl FnMut(bool) -> bool,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let head_end = loop {
            if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = client.read(&mut buf)?;
            if n == 0 {
                let _ = server.shutdown(std::net::Shutdown::Write);
                return Ok(());
            }
            pending.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        let upload = head.starts_with("PUT ")
            && head.lines().next().is_some_and(|l| l.contains("/objects/"));
        server.write_all(&pending[..head_end])?;
        pending.drain(..head_end);
        while pending.len() < length {
            let n = client.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            pending.extend_from_slice(&buf[..n]);
        }
        let mut body: Vec<u8> = pending.drain(..length).collect();
        if length > 0 && flip(upload) {
            body[length / 2] ^= 0x20;
        }
        server.write_all(&body)?;
    }
}

/// A byte flipped on the way to the server is caught: the server refuses
/// the body (its Content-MD5 is the pass's), the upload is sent again,
/// nothing damaged is ever visible, and every object is right. Small
/// objects (one PUT) and a large one (a multipart upload's parts).
fn a_byte_flipped_in_flight_is_never_stored(engine: Engine) {
    let server = Server::start_on(engine);
    let env = Env::new();
    for i in 0..4 {
        env.write(
            format!("in/small{i}.bin"),
            &noise(20_000 + i * 1000, 900 + i as u64),
        );
    }
    env.write("in/large.bin", &noise(12 << 20, 950));
    // Uploads: 4 single PUTs and 3 parts; damage each in turn.
    for nth in 1..=7 {
        let proxy = FlipProxy::start(server.s3_port(), nth);
        let store = store_url(&format!("flip{nth}"));
        let mut cmd = server.cmd(&store, ["-q", "--no-cache", "in"]);
        cmd.current_dir(env.path())
            .env("AWS_ENDPOINT_URL", proxy.endpoint());
        let out = cmd.output().unwrap();
        assert_eq!(proxy.flipped(), 1, "upload {nth} was not damaged");
        assert!(out.status.success(), "upload {nth}: {}", stderr_of(&out));
        let summary = assert_verified(&server, &store);
        assert_eq!(summary["objects"], 5, "upload {nth}");
        assert_eq!(entries(&server, &store).len(), 5);
    }
}

/// What is stored is never written again: the same content sent again
/// (no files cache, so it is read and sent) is refused by the server
/// (`If-None-Match: *`, 412) or found by the HEAD that precedes a large
/// object, and the run says `unchanged`; the objects keep their dates.
fn uploads_are_create_only(engine: Engine) {
    let server = Server::start_on(engine);
    let env = Env::new();
    env.write("in/small.bin", &noise(30_000, 70));
    env.write("in/large.bin", &noise(7 << 20, 71));
    let store = store_url("create-only");
    let dir = env.path().join("in");
    ok(server.cmd(&store, [OsStr::new("-q"), dir.as_os_str()]));
    let before = ok(server.cmd(&store, ["--json", "ls"])).stdout;
    let again = ok(server.cmd(
        &store,
        [
            OsStr::new("--json"),
            OsStr::new("--no-cache"),
            dir.as_os_str(),
        ],
    ));
    let statuses: Vec<String> = json_lines(&again)
        .iter()
        .map(|l| l["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["unchanged", "unchanged"]);
    assert_eq!(ok(server.cmd(&store, ["--json", "ls"])).stdout, before);
    assert_verified(&server, &store);
}

/// An S3 store keeps policy defaults in `config.json` under its prefix, as
/// a local store does, and the flags still win.
fn the_stores_config_json_sets_policy_defaults(engine: Engine) {
    let server = Server::start_on(engine);
    let env = Env::new();
    let store = store_url("configured");
    let small = env.write("small.txt", b"small\n");
    ok(server.cmd(&store, [small.as_os_str()]));
    server.put("configured/config.json", br#"{"max_size": "4K"}"#);
    let big = env.write("big.bin", &noise(8192, 80));
    let out = server.cmd(&store, [big.as_os_str()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_says(
        &stderr_of(&out),
        "larger than max_size in config.json 4.00 KiB",
    );
    ok(server.cmd(
        &store,
        [OsStr::new("--max-size"), OsStr::new("1M"), big.as_os_str()],
    ));
    assert_eq!(entries(&server, &store).len(), 2);
}

/// Two machines (two caches), each serving the store, take uploads at
/// once: their commits race for numbers, and the writer of each hundredth
/// commit makes a pack. Then each machine, and a third whose cache is
/// empty, sees every entry exactly once; the third reads the pack, not the
/// hundred commits, and records a new input after them all.
fn two_servers_commit_and_pack_at_once_and_every_machine_sees_each_entry_once(engine: Engine) {
    use crate::harness::served::{Served, file_arg};
    let server = Server::start_on(engine);
    let env = Env::new();
    let store = store_url(&format!("packs-{}", std::process::id()));
    let machine = |name: &str, args: &[&str]| {
        let mut cmd = server.cmd(&store, args);
        cmd.env("XDG_CACHE_HOME", env.path().join(name));
        cmd
    };
    let serve = |name: &str| {
        let out = ok(machine(name, &["-q", "token", "add", "phone"]));
        let token = stdout_of(&out).trim().to_owned();
        Served::start_with(
            machine(name, &["serve", "--listen", "127.0.0.1:0"]),
            &[],
            token,
        )
    };
    let (one, two) = (serve("m1"), serve("m2"));
    let per_server = 65;
    let mut expected = std::collections::HashSet::new();
    for i in 0..2 * per_server {
        let bytes = noise(100 + i, 9000 + i as u64);
        env.write(format!("up/f{i}.bin"), &bytes);
        expected.insert((sha256_hex(&bytes), format!("f{i}.bin")));
    }
    std::thread::scope(|scope| {
        for (n, served) in [&one, &two].into_iter().enumerate() {
            let env = &env;
            scope.spawn(move || {
                for i in (n * per_server)..((n + 1) * per_server) {
                    let file = env.path().join(format!("up/f{i}.bin"));
                    let url = served.url(&format!("/v1/files/f{i}.bin"));
                    let (status, body) = served.json(&["-T", &file_arg(&file), &url]);
                    assert!(status == 201 || status == 200, "{status}: {body}");
                }
            });
        }
    });
    assert!(one.stop() && two.stop());
    let prefix = &store[store.rfind('/').unwrap() + 1..];
    let packs = server.keys(&format!("{prefix}/manifest/packs/"));
    assert_eq!(
        packs,
        [format!(
            "{prefix}/manifest/packs/{:020}-{:020}.jsonl",
            1, 100
        )]
    );
    // The commits the pack holds go (as a later gc would remove them; the
    // filer can, on SeaweedFS): a machine that reads the store from nothing
    // finds their lines in the pack.
    if engine == Engine::SeaweedFs {
        for key in server.keys(&format!("{prefix}/manifest/log/")) {
            let n: u64 = key.rsplit('/').next().unwrap()[..20].parse().unwrap();
            if n <= 100 {
                server.remove_folder(&key);
            }
        }
    }
    let seen = |name: &str| -> Vec<(String, String)> {
        let out = ok(machine(name, &["--json", "ls"]));
        stdout_of(&out)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|e| {
                (
                    e["sha256"].as_str().unwrap().to_owned(),
                    e["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    for name in ["m1", "m2", "m3"] {
        let found = seen(name);
        let unique: std::collections::HashSet<_> = found.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            found.len(),
            "{name}: an entry is listed twice"
        );
        let missing: Vec<_> = expected.difference(&unique).collect();
        let others: Vec<_> = unique.difference(&expected).collect();
        assert!(
            missing.is_empty() && others.is_empty(),
            "{name}: missing {missing:?}, others {others:?}"
        );
    }
    let added = machine("m4", &["-q", "--name", "after.txt", "-"]);
    with_stdin(added, "after\n").assert().success();
    assert_eq!(seen("m4").len(), expected.len() + 1);
    assert_eq!(seen("m1").len(), expected.len() + 1);
}

/// Uploads that arrive together go into the manifest together: a crowd of
/// uploads to one server makes fewer commits than uploads, and every one
/// is recorded once.
#[test]
fn uploads_at_once_share_commits() {
    use crate::harness::served::{Served, file_arg};
    let server = Server::start();
    let env = Env::new();
    let store = store_url("grouped");
    let out = ok(server.cmd(&store, ["-q", "token", "add", "phone"]));
    let token = stdout_of(&out).trim().to_owned();
    let serve = server.cmd(&store, ["serve", "--listen", "127.0.0.1:0"]);
    let room = ["--max-uploads", "64", "--max-uploads-per-token", "64"];
    let served = Served::start_with(serve, &room, token);
    let uploads = 48;
    for i in 0..uploads {
        env.write(format!("up/g{i}.bin"), &noise(2000 + i, 7000 + i as u64));
    }
    std::thread::scope(|scope| {
        for i in 0..uploads {
            let (env, served) = (&env, &served);
            scope.spawn(move || {
                let file = env.path().join(format!("up/g{i}.bin"));
                let url = served.url(&format!("/v1/files/g{i}.bin"));
                let (status, body) = served.json(&["-T", &file_arg(&file), &url]);
                assert_eq!(status, 201, "{body}");
            });
        }
    });
    assert!(served.stop());
    let commits = server.keys("grouped/manifest/log/").len();
    println!("{uploads} uploads made {commits} commits");
    assert!(
        commits * 5 <= uploads * 4,
        "{uploads} uploads made {commits} commits"
    );
    let names: std::collections::HashSet<String> = entries(&server, &store)
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), uploads);
}

/// `rm` on S3: the removed entry's name and bytes are in no key of the
/// bucket (commits, the pack holding them, the trash emptied) and in no
/// file of any machine's cache; a machine that had read the entry before
/// forgets it at its next look, one with an empty cache never sees it, and
/// writing goes on. The trash and the block list work there too.
fn rm_reaches_every_commit_pack_and_machine(engine: Engine) {
    use crate::harness::served::{Served, file_arg};
    let server = Server::start_on(engine);
    let env = Env::new();
    let store = store_url(&format!("rm-{}", std::process::id()));
    let prefix = store[store.rfind('/').unwrap() + 1..].to_owned();
    let machine = |name: &str, args: &[&str]| {
        let mut cmd = server.cmd(&store, args);
        cmd.env("XDG_CACHE_HOME", env.path().join(name));
        cmd
    };
    let names = |name: &str| -> Vec<String> {
        let out = ok(machine(name, &["--json", "ls"]));
        let mut names: Vec<String> = json_lines(&out)
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let secret = b"erase me: the bytes of 4e1f9a77 someone may have removed\n".repeat(30);
    let out = ok(machine("m1", &["-q", "token", "add", "phone"]));
    let token = stdout_of(&out).trim().to_owned();
    let served = Served::start_with(
        machine("m1", &["serve", "--listen", "127.0.0.1:0"]),
        &[],
        token,
    );
    // One upload a commit: 101 commits, the first 100 also in a pack.
    for i in 0..101 {
        let (name, bytes) = match i {
            50 => ("Q3-layoffs-draft-5b2f.txt".to_owned(), secret.clone()),
            _ => (format!("f{i}.bin"), noise(100 + i, 7000 + i as u64)),
        };
        let file = env.write(format!("up/{name}"), &bytes);
        let url = served.url(&format!("/v1/files/{name}"));
        let (status, body) = served.json(&["-T", &file_arg(&file), &url]);
        assert_eq!(status, 201, "{body}");
    }
    assert!(served.stop());
    assert_eq!(
        server.keys(&format!("{prefix}/manifest/packs/")).len(),
        1,
        "the pack of commits 1-100"
    );
    // Another machine reads the store, the entry included.
    assert!(names("m2").contains(&"Q3-layoffs-draft-5b2f.txt".to_owned()));
    // To the trash first, then back, on S3.
    ok(machine("m1", &["-q", "rm", "--trash", "--name", "f7.bin"]));
    assert!(!names("m2").contains(&"f7.bin".to_owned()));
    let out = ok(machine("m2", &["--json", "trash", "ls"]));
    let id = json_lines(&out)[0]["id"].as_str().unwrap().to_owned();
    ok(machine("m2", &["-q", "trash", "restore", &id]));
    assert!(names("m1").contains(&"f7.bin".to_owned()));
    // Removed for good, blocked.
    let out = ok(machine("m1", &["rm", "--block", "--name", "Q3-layoffs-*"]));
    assert_says(&stderr_of(&out), "removed 1 entry; deleted 1 object");
    for name in ["m1", "m2", "m3"] {
        let seen = names(name);
        assert_eq!(seen.len(), 100, "{name}: {seen:?}");
        assert!(
            !seen.contains(&"Q3-layoffs-draft-5b2f.txt".to_owned()),
            "{name}"
        );
    }
    let out = ok(machine("m2", &["--json", "verify"]));
    assert_eq!(json_summary(&out)["problems"], 0);
    // The bytes come back from no machine: blocked.
    let again = env.write("again/copy.txt", &secret);
    let out = machine("m2", &[again.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    // Nothing of it anywhere: not in a key of the bucket, not in a file of
    // any machine's cache.
    let needles: [&[u8]; 2] = [b"layoffs-draft", b"someone may have removed"];
    let holds = |bytes: &[u8]| {
        needles
            .iter()
            .any(|needle| bytes.windows(needle.len()).any(|w| w == *needle))
    };
    let keys = server.keys(&format!("{prefix}/"));
    assert!(keys.len() > 200, "{} keys", keys.len());
    for key in keys {
        assert!(!holds(&server.get(&key)), "{key} still holds it");
    }
    for name in ["m1", "m2", "m3"] {
        for file in files_under(&env.path().join(name)) {
            assert!(
                !holds(&std::fs::read(&file).unwrap()),
                "{} still holds it",
                file.display()
            );
        }
    }
    // Writing goes on, on every machine.
    with_stdin(
        machine("m2", &["-q", "--name", "after.txt", "-"]),
        "after\n",
    )
    .assert()
    .success();
    assert_eq!(names("m1").len(), 101);
    assert_eq!(names("m3").len(), 101);
}

/// A tree into an S3 store and back with `export --tree`, folders and all.
#[test]
fn a_tree_comes_back_whole_from_an_s3_store() {
    let server = Server::start();
    let env = Env::new();
    let store = store_url("tree");
    for (path, seed) in [
        ("Photos/2019/IMG.jpg", 1),
        ("Photos/2020/IMG.jpg", 3),
        ("Photos/notes.txt", 5),
    ] {
        env.write(path, &noise(2000, seed));
    }
    let photos = env.path().join("Photos");
    ok(server.cmd(&store, [OsStr::new("-q"), photos.as_os_str()]));
    let dest = env.path().join("dest");
    ok(server.cmd(
        &store,
        [
            OsStr::new("-q"),
            OsStr::new("export"),
            OsStr::new("--tree"),
            dest.as_os_str(),
        ],
    ));
    assert_same_tree(&dest.join("Photos"), &photos, "from the bucket");
}

/// The server's removal on an S3 store: a delete token moves an entry to
/// the trash (gone from the pages, its object kept, another machine no
/// longer lists it) and restores it.
#[test]
fn a_server_on_an_s3_store_trashes_and_restores() {
    use crate::harness::served::{Served, curl_status};
    let server = Server::start();
    let env = Env::new();
    let store = store_url("served-trash");
    let file = env.write("keep.bin", &noise(3000, 41));
    let gone = env.write("gone.bin", &noise(3000, 43));
    ok(server.cmd(
        &store,
        [OsStr::new("-q"), file.as_os_str(), gone.as_os_str()],
    ));
    let out = ok(server.cmd(&store, ["token", "add", "cleaner", "--scope", "delete"]));
    let token = stdout_of(&out).trim().to_owned();
    let served = Served::start_with(
        server.cmd(&store, ["serve", "--listen", "127.0.0.1:0"]),
        &[],
        token.clone(),
    );
    let (_, page) = served.json(&[&served.url("/v1/entries")]);
    let entry = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "gone.bin")
        .unwrap()
        .clone();
    let id = entry["id"].as_str().unwrap();
    let auth = format!("Authorization: Bearer {token}");
    let (status, body) = curl_status(&[
        "-X",
        "DELETE",
        "-H",
        &auth,
        &served.url(&format!("/v1/entries/{id}")),
    ]);
    assert_eq!(status, 200, "{body}");
    let (_, page) = served.json(&[&served.url("/v1/entries")]);
    assert_eq!(page["entries"].as_array().unwrap().len(), 1, "{page}");
    // Another machine (its own cache) sees it gone, and in the trash.
    let other = |args: &[&str]| {
        let mut cmd = server.cmd(&store, args);
        cmd.env("XDG_CACHE_HOME", env.path().join("other"));
        cmd
    };
    let out = ok(other(&["--json", "ls"]));
    assert_eq!(json_lines(&out).len(), 1);
    let out = ok(other(&["--json", "trash", "ls"]));
    assert_eq!(json_lines(&out)[0]["name"], "gone.bin");
    let object = served.url(&format!(
        "/v1/objects/{}",
        entry["sha256"].as_str().unwrap()
    ));
    assert_eq!(served.curl(&["-o", "/dev/null", &object]).0, 200);
    let (status, body) = curl_status(&[
        "-X",
        "POST",
        "-H",
        &auth,
        &served.url(&format!("/v1/trash/{id}/restore")),
    ]);
    assert_eq!(status, 200, "{body}");
    let (_, page) = served.json(&[&served.url("/v1/entries")]);
    assert_eq!(page["entries"].as_array().unwrap().len(), 2, "{page}");
    assert!(served.stop());
    assert_verified(&server, &store);
}
