//! The catalog (the manifest's identities indexed in `cache/`): whatever
//! happens to it, deleted, damaged, left behind by the manifest, or killed
//! mid-update, a run records each file exactly once, as a full read of the
//! manifest would decide.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::served::Served;
use crate::util::*;

const CATALOG: &str = "cache/catalog-v1.sqlite";

/// `count` small files under `dir`, each different, aged past the files
/// cache's racy window.
fn tree(env: &Env, dir: &str, count: usize, seed: u64) -> Vec<PathBuf> {
    let files = (0..count)
        .map(|i| {
            env.write(
                format!("{dir}/f{i:03}.bin"),
                &noise(300 + i, 2 * (seed * 1000 + i as u64)),
            )
        })
        .collect();
    age_files();
    files
}

/// Every file has exactly one manifest line for its (name, source, bytes),
/// and no line is there twice: what reading the whole manifest decides.
fn assert_recorded_once(env: &Env, files: &[PathBuf], context: &str) {
    let mut lines: HashMap<(String, String), usize> = HashMap::new();
    for line in env.manifest() {
        let key = (
            line["sha256"].as_str().unwrap().to_owned(),
            line["source"].as_str().unwrap().to_owned(),
        );
        *lines.entry(key).or_default() += 1;
    }
    for (key, count) in &lines {
        assert_eq!(*count, 1, "{context}: {key:?} is recorded {count} times");
    }
    for file in files {
        let key = (
            sha256_file(file),
            file.canonicalize().unwrap().display().to_string(),
        );
        assert!(lines.contains_key(&key), "{context}: {file:?} has no line");
    }
}

/// `--no-cache` makes every file's identity a question for the catalog.
fn rerun(env: &Env) {
    ok(env.cmd(["-q", "--no-cache", "in"]));
}

#[test]
fn a_deleted_or_damaged_catalog_is_made_again() {
    let env = Env::new();
    let files = tree(&env, "in", 20, 1);
    ok(env.cmd(["-q", "in"]));
    assert!(env.store().join(CATALOG).is_file(), "no catalog was made");
    for file in fs::read_dir(env.store().join("cache")).unwrap() {
        let path = file.unwrap().path();
        if path.to_string_lossy().contains("catalog") {
            fs::remove_file(path).unwrap();
        }
    }
    rerun(&env);
    assert_recorded_once(&env, &files, "deleted");
    fs::write(env.store().join(CATALOG), b"not a database at all").unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = fs::remove_file(env.store().join(format!("{CATALOG}{suffix}")));
    }
    let out = ok(env.cmd(["-q", "--no-cache", "in"]));
    assert_says(&stderr_of(&out), "making it again from the manifest");
    assert_recorded_once(&env, &files, "damaged");
}

#[test]
fn a_catalog_left_behind_catches_up_by_what_was_appended() {
    let env = Env::new();
    let mut files = tree(&env, "in", 10, 2);
    ok(env.cmd(["-q", "in"]));
    // Another run appends while this catalog is elsewhere: it comes back
    // behind the manifest.
    let kept = env.path().join("kept-cache");
    fs::rename(env.store().join("cache"), &kept).unwrap();
    files.extend(tree(&env, "in/more", 10, 3));
    ok(env.cmd(["-q", "in"]));
    fs::remove_dir_all(env.store().join("cache")).unwrap();
    fs::rename(&kept, env.store().join("cache")).unwrap();
    rerun(&env);
    assert_recorded_once(&env, &files, "behind");
}

#[test]
fn a_manifest_cut_or_replaced_behind_the_catalog_is_read_again() {
    let env = Env::new();
    let files = tree(&env, "in", 12, 4);
    ok(env.cmd(["-q", "in"]));
    let manifest = env.store().join("manifest.jsonl");
    let whole = fs::read(&manifest).unwrap();
    let lines: Vec<&[u8]> = whole.split_inclusive(|&b| b == b'\n').collect();
    // Cut to its first half: the catalog knows lines that are gone.
    fs::write(&manifest, lines[..6].concat()).unwrap();
    rerun(&env);
    assert_recorded_once(&env, &files, "cut");
    // Torn: the last line loses its end.
    let now = fs::read(&manifest).unwrap();
    fs::write(&manifest, &now[..now.len() - 15]).unwrap();
    rerun(&env);
    assert_recorded_once(&env, &files, "torn");
    // Replaced: as long as before, the same lines in another order, so
    // the bytes before the catalog's offset are not the ones it read.
    let now = fs::read(&manifest).unwrap();
    let mut reordered: Vec<&[u8]> = now.split_inclusive(|&b| b == b'\n').collect();
    reordered.reverse();
    fs::write(&manifest, reordered.concat()).unwrap();
    // And then cut, so the run has something to record again.
    let reordered = fs::read(&manifest).unwrap();
    let first_line = reordered.iter().position(|&b| b == b'\n').unwrap() + 1;
    fs::write(&manifest, &reordered[first_line..]).unwrap();
    rerun(&env);
    assert_recorded_once(&env, &files, "replaced");
    env.assert_store_valid();
}

/// Two writers and a server taking uploads, on one store at once: each
/// file is recorded once, and the server's pages, read while they write
/// and after, are what a full read of the manifest says.
#[test]
fn two_writers_and_a_server_at_once_record_each_file_once() {
    use crate::harness::served::file_arg;
    let seed = test_seed();
    println!("seed {seed} (INGEST_TEST_SEED={seed} replays it)");
    let mut rng = Moments(seed);
    let env = Env::new();
    let files = tree(&env, "in", 40, 5);
    let uploads = tree(&env, "up", 20, 8);
    let server = Served::start(&env, &[]);
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let mut run = env.cmd(["-q", "--no-cache", "in"]);
            run.stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for (i, file) in uploads.iter().enumerate() {
        let url = server.url(&format!("/v1/files/up{i}.bin"));
        let (status, body) = server.json(&["-T", &file_arg(file), &url]);
        assert!(status == 201 || status == 200, "{status}: {body}");
        if i % 5 == 0 {
            let (status, _) = server.json(&[&server.url("/v1/entries?limit=50")]);
            assert_eq!(status, 200);
        }
    }
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        // Opening a new catalog at once (three processes here) must not
        // push one of them off it.
        assert!(!stderr_of(&out).contains("without"), "{}", stderr_of(&out));
    }
    assert_recorded_once(&env, &files, "two writers and a server");
    let names: Vec<String> = env
        .manifest()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect();
    for i in 0..uploads.len() {
        let name = format!("up{i}.bin");
        assert_eq!(names.iter().filter(|n| **n == name).count(), 1, "{name}");
    }
    assert_pages_match(&server, &env, &mut rng, &format!("seed {seed}: after"));
}

/// A rebuild (catalog deleted, a manifest of thousands of lines) and the
/// updates after it, killed at random moments; each next run records what
/// a full read of the manifest says is missing, and nothing twice.
#[test]
fn a_catalog_killed_at_random_moments_still_answers_right() {
    let seed = test_seed();
    println!("seed {seed} (INGEST_TEST_SEED={seed} replays it)");
    let mut rng = Moments(seed);
    let env = Env::new();
    let mut files = tree(&env, "in", 30, 6);
    ok(env.cmd(["-q", "in"]));
    // Thousands of older lines in front, so a rebuild takes a while.
    let manifest = env.store().join("manifest.jsonl");
    let own = fs::read(&manifest).unwrap();
    let template = String::from_utf8(own.split(|&b| b == b'\n').next().unwrap().to_vec()).unwrap();
    let mut older = String::new();
    for i in 0..40_000 {
        older.push_str(&template.replace("f000.bin", &format!("older{i}.bin")));
        older.push('\n');
    }
    fs::write(&manifest, [older.as_bytes(), &own].concat()).unwrap();
    let catalog = env.store().join(CATALOG);
    // How long a run takes that rebuilds the catalog, and one that only
    // updates it: each kill is drawn within its own run's time.
    let timed = || {
        let started = Instant::now();
        rerun(&env);
        (started.elapsed().as_millis() as u64).max(20)
    };
    remove_catalog(&catalog);
    let rebuild = timed();
    let update = timed();
    let mut landed = 0;
    for round in 0..12 {
        let context = format!("seed {seed} round {round}");
        let span = match rng.next_below(2) {
            0 => {
                remove_catalog(&catalog);
                rebuild
            }
            _ => update,
        };
        files.extend(tree(&env, &format!("in/r{round}"), 3, 100 + round));
        let mut run = env.cmd(["-q", "--no-cache", "in"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.next_below(span)));
        if run.try_wait().unwrap().is_none() {
            landed += 1;
        }
        let _ = run.kill();
        let _ = run.wait();
        rerun(&env);
        assert_recorded_once(&env, &files, &context);
    }
    println!("{landed} of 12 kills landed mid-run");
    assert!(
        landed * 4 >= 12,
        "seed {seed}: only {landed} of 12 kills landed mid-run"
    );
    // Killed runs leave temp files, which gc takes.
    ok(env.cmd(["-q", "gc", "--older-than", "0s"]));
    env.assert_store_valid();
}

fn remove_catalog(catalog: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = catalog.as_os_str().to_owned();
        path.push(suffix);
        let _ = fs::remove_file(PathBuf::from(path));
    }
}

/// Synthetic manifest lines, as several binaries over the years wrote
/// them: names of any case, types of every kind, dates out of order over
/// two years, and now and then a line that does not parse.
fn synthetic_lines(rng: &mut Moments, count: usize) -> String {
    const WORDS: [&str; 6] = ["Holiday", "IMG_", "scan", "Birthday", "note", "ÄRGER"];
    const TYPES: [&str; 7] = [
        "image/jpeg",
        "image/png",
        "video/mp4",
        "audio/amr",
        "application/pdf",
        "text/plain",
        "application/zip",
    ];
    let mut text = String::new();
    for _ in 0..count {
        if rng.next_below(200) == 0 {
            text.push_str("not json\n");
            continue;
        }
        let name = format!(
            "{}{:04}.x",
            WORDS[rng.next_below(6) as usize],
            rng.next_below(3000)
        );
        let at = format!(
            "{}-{:02}-{:02}T{:02}:00:00Z",
            2025 + rng.next_below(2),
            1 + rng.next_below(12),
            1 + rng.next_below(28),
            rng.next_below(24)
        );
        let sha = format!("{:064x}", rng.next_below(u64::MAX));
        let line = serde_json::json!({
            "sha256": sha, "size": 1, "mime": TYPES[rng.next_below(7) as usize],
            "ext": "x", "name": name, "source": format!("/src/{name}"),
            "ingested_at": at, "new": true,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    text
}

/// What the server's page should hold for `query` (pairs of a key and a
/// value), from a full read of the manifest: line numbers, newest first.
fn expected_ids(manifest: &[Parsed], query: &[(&str, String)]) -> Vec<u64> {
    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    };
    let kind_of = |mime: &str| match mime.split('/').next().unwrap() {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        _ if mime == "application/pdf" || mime.starts_with("text/") => "document",
        _ => "other",
    };
    let bound = |month: Option<String>| month.map(|m| format!("{m}-01T00:00:00Z"));
    let (since, until) = (bound(get("since")), bound(get("until")));
    let mut found = Vec::new();
    for (number, mime, name, at) in manifest {
        let (mime, name, at) = (mime.as_str(), name.as_str(), at.as_str());
        let fits = get("kind").is_none_or(|k| kind_of(mime) == k)
            && get("name").is_none_or(|n| name.to_lowercase().contains(&n.to_lowercase()))
            && get("type").is_none_or(|t| match t.strip_suffix("/*") {
                Some(top) => mime.starts_with(&format!("{top}/")),
                None => mime == t,
            })
            && since.as_deref().is_none_or(|s| at >= s)
            && until.as_deref().is_none_or(|u| at < u);
        if fits {
            found.push(*number);
        }
    }
    found.reverse();
    found
}

/// A manifest line's number, type, name and date.
type Parsed = (u64, String, String, String);

fn parsed(manifest: &[u8]) -> Vec<Parsed> {
    let lines = manifest.split_inclusive(|&b| b == b'\n').enumerate();
    lines
        .filter_map(|(number, line)| {
            let entry = serde_json::from_slice::<serde_json::Value>(line).ok()?;
            let text = |key: &str| entry[key].as_str().unwrap().to_owned();
            Some((
                number as u64,
                text("mime"),
                text("name"),
                text("ingested_at"),
            ))
        })
        .collect()
}

/// A random page query: a kind, a part of a name (long or short), a
/// month range, a type, or several of them.
fn random_query(rng: &mut Moments) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if rng.next_below(3) == 0 {
        let kinds = ["image", "video", "audio", "document", "other"];
        query.push(("kind", kinds[rng.next_below(5) as usize].to_owned()));
    }
    if rng.next_below(2) == 0 {
        let parts = [
            "holiday", "IMG_1", "g_", "äRG", "12", "day0", "zzz", "scan29",
        ];
        query.push(("name", parts[rng.next_below(8) as usize].to_owned()));
    }
    if rng.next_below(3) == 0 {
        let from = 1 + rng.next_below(12);
        query.push(("since", format!("2025-{from:02}")));
        let to = from + 1 + rng.next_below(3);
        if to <= 12 {
            query.push(("until", format!("2025-{to:02}")));
        }
    }
    if rng.next_below(4) == 0 {
        let types = ["image/*", "image/png", "application/zip", "text/*"];
        query.push(("type", types[rng.next_below(4) as usize].to_owned()));
    }
    query
}

/// Each random query's first pages, followed by cursor, are what a full
/// read of the manifest says.
fn assert_pages_match(server: &Served, env: &Env, rng: &mut Moments, context: &str) {
    let manifest = parsed(&env.manifest_bytes());
    assert!(env.store().join(CATALOG).is_file(), "{context}: no catalog");
    for _ in 0..12 {
        let query = random_query(rng);
        let limit = 1 + rng.next_below(60) as usize;
        let mut expected = expected_ids(&manifest, &query);
        let mut cursor: Option<String> = None;
        for _page in 0..3 {
            let mut url = format!("/v1/entries?limit={limit}");
            for (key, value) in &query {
                url.push_str(&format!("&{key}={}", value.replace('ä', "%C3%A4")));
            }
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let (status, page) = server.json(&[&server.url(&url)]);
            assert_eq!(status, 200, "{context}: {url}: {page}");
            let ids: Vec<u64> = page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["line"].as_u64().unwrap())
                .collect();
            let wanted: Vec<u64> = expected.iter().copied().take(limit).collect();
            assert_eq!(ids, wanted, "{context}: {url}");
            let log = server.log();
            assert!(!log.contains("without the catalog"), "{context}: {log}");
            expected.drain(..wanted.len());
            match page["next"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => {
                    assert!(expected.is_empty(), "{context}: {url} ended early");
                    break;
                }
            }
        }
    }
}

/// The server's pages come from the catalog's entries: made at start,
/// caught up with lines another binary appended while it runs, read again
/// when the manifest is cut and rewritten behind it, and made again when
/// the catalog is damaged, deleted, or its making is killed. After each,
/// every page is what a full read of the manifest says.
#[test]
fn pages_from_the_catalog_match_a_full_read_of_the_manifest() {
    let seed = test_seed();
    println!("seed {seed} (INGEST_TEST_SEED={seed} replays it)");
    let mut rng = Moments(seed);
    let env = Env::new();
    with_stdin(env.cmd(["-q", "--name", "first.txt", "-"]), "x")
        .assert()
        .success();
    let manifest = env.store().join("manifest.jsonl");
    let append = |text: &str| {
        let mut file = fs::OpenOptions::new().append(true).open(&manifest).unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    };
    append(&synthetic_lines(&mut rng, 3000));
    let server = Served::start(&env, &[]);
    assert_pages_match(
        &server,
        &env,
        &mut rng,
        &format!("seed {seed}: made at start"),
    );
    append(&synthetic_lines(&mut rng, 500));
    assert_pages_match(&server, &env, &mut rng, &format!("seed {seed}: appended"));
    // Cut to a line boundary and written on with other lines.
    let bytes = env.manifest_bytes();
    let cut = bytes[..bytes.len() / 2]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    fs::write(&manifest, &bytes[..cut]).unwrap();
    append(&synthetic_lines(&mut rng, 700));
    assert_pages_match(&server, &env, &mut rng, &format!("seed {seed}: rewritten"));
    let token = server.token.clone();
    let restart = || {
        let serve = env.cmd(["serve", "--listen", "127.0.0.1:0"]);
        Served::start_with(serve, &[], token.clone())
    };
    assert!(server.stop());
    let catalog = env.store().join(CATALOG);
    fs::write(&catalog, noise(8192, seed)).unwrap();
    let server = restart();
    assert_pages_match(&server, &env, &mut rng, &format!("seed {seed}: damaged"));
    assert!(server.stop());
    // Killed while making it: a big manifest, so the making takes a while.
    append(&synthetic_lines(&mut rng, 30_000));
    for round in 0..3 {
        remove_catalog(&catalog);
        let mut making = env
            .cmd(["serve", "--listen", "127.0.0.1:0"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50 + rng.next_below(800)));
        let _ = making.kill();
        let _ = making.wait();
        let server = restart();
        let context = format!("seed {seed}: killed while making, round {round}");
        assert_pages_match(&server, &env, &mut rng, &context);
        assert!(server.stop());
    }
}
