//! `ingest rm`: entries removed from the manifest, objects no kept entry
//! names deleted, and a crash at any moment leaving no entry that names a
//! missing object.

use std::fs;
use std::time::Duration;

use crate::util::*;

/// Three files, two of them the same bytes under two names.
fn stocked() -> Env {
    stocked_with("gone.txt")
}

fn names(env: &Env) -> Vec<String> {
    entry_names(env)
}

#[test]
fn rm_removes_entries_and_only_the_objects_no_kept_entry_names() {
    let env = stocked();
    let shared = sha256_hex(b"shared bytes\n");
    let alone = sha256_hex(&noise(5000, 3));
    // The shared object stays: keep.txt still names it.
    let out = ok(env.cmd(["rm", "--name", "gone.txt"]));
    assert!(stdout_of(&out).contains("gone.txt"), "{}", stdout_of(&out));
    assert_says(&stderr_of(&out), "removed 1 entry; deleted 0 objects");
    assert_eq!(names(&env), ["alone.bin", "keep.txt"]);
    assert!(env.object(&shared).exists());
    // By a hash prefix: the entry and its object go.
    let out = ok(env.cmd(["--json", "rm", &alone[..8]]));
    assert_eq!(json_lines(&out)[0]["name"], "alone.bin");
    assert_says(&stderr_of(&out), "removed 1 entry; deleted 1 object");
    assert!(!env.object(&alone).exists());
    assert_eq!(names(&env), ["keep.txt"]);
    let out = ok(env.cmd(["--json", "verify"]));
    assert_eq!(json_summary(&out)["problems"], 0);
    // The removed entries are gone from the catalog too: pages and ls
    // agree, and a run over the folder stores them again (their files
    // cache records were forgotten).
    let out = ok(env.cmd(["--json", "in"]));
    let statuses: Vec<(String, String)> = json_lines(&out)
        .iter()
        .filter(|l| l["path"].is_string())
        .map(|l| {
            let path = l["path"].as_str().unwrap();
            (
                path.rsplit('/').next().unwrap().to_owned(),
                l["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("alone.bin".into(), "new".into())),
        "{statuses:?}"
    );
    assert_eq!(names(&env), ["alone.bin", "gone.txt", "keep.txt"]);
    env.assert_store_valid();
}

#[test]
fn rm_without_a_selector_or_in_a_dry_run_removes_nothing() {
    let env = stocked();
    let before = env.manifest_bytes();
    let out = env.cmd(["rm"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "say what to remove");
    let out = ok(env.cmd(["rm", "--dry-run", "--name", "*.txt"]));
    assert_says(&stderr_of(&out), "would remove 2 entries");
    assert_eq!(env.manifest_bytes(), before);
    assert_eq!(env.objects().len(), 2);
}

/// `rm` killed at random moments, with a writer (and every other round a
/// gc) running beside it: no
/// kept entry ever names a missing object, every entry is either still
/// there or removed whole, and gc then leaves a clean store.
#[test]
fn rm_killed_at_random_moments_never_leaves_an_entry_naming_a_missing_object() {
    let seed = test_seed();
    println!("seed {seed} (INGEST_TEST_SEED={seed} replays it)");
    let mut rng = Moments(seed);
    let env = Env::new();
    for i in 0..300 {
        env.write(
            format!("in/f{i:03}.bin"),
            &noise(200 + i, 40_000 + i as u64),
        );
    }
    age_files();
    ok(env.cmd(["-q", "in"]));
    for round in 0..8 {
        let context = format!("seed {seed} round {round}");
        let pattern = format!("f{}*", rng.next_below(3));
        let writer = env.write(format!("more/r{round}.bin"), &noise(3000, 50_000 + round));
        let mut beside = env.cmd(["-q", writer.to_str().unwrap()]).spawn().unwrap();
        // Removed at once, to the trash, or purged.
        let how = ["--name", "--trash", "--purge"][rng.next_below(3) as usize];
        let mut args = vec!["-q", "rm", "--name", &pattern];
        if how != "--name" {
            args.push(how);
        }
        let mut rm = env.cmd(args).spawn().unwrap();
        // Every other round a gc of orphans too, taking turns with rm for
        // the store's exclusive lock.
        let gc = (round % 2 == 1).then(|| {
            let mut gc = env.cmd(["-q", "gc", "--orphans", "--older-than", "0s"]);
            gc.spawn().unwrap()
        });
        std::thread::sleep(Duration::from_millis(rng.next_below(60)));
        let _ = rm.kill();
        let _ = rm.wait();
        assert!(
            beside.wait().unwrap().success(),
            "{context}: the writer beside rm failed"
        );
        if let Some(gc) = gc {
            let out = gc.wait_with_output().unwrap();
            assert!(out.status.success(), "{context}: gc: {}", stderr_of(&out));
        }
        // What the trash holds keeps its bytes.
        let out = ok(env.cmd(["--json", "trash", "ls"]));
        for trashed in json_lines(&out) {
            let hex = trashed["sha256"].as_str().unwrap();
            assert!(env.object(hex).exists(), "{context}: {trashed}");
        }
        let out = env.cmd(["--json", "verify", "--quick"]).output().unwrap();
        for problem in json_lines(&out) {
            let kind = problem["problem"].as_str().unwrap_or("");
            assert!(
                matches!(kind, "" | "orphan" | "temp"),
                "{context}: {problem}"
            );
        }
    }
    ok(env.cmd(["-q", "gc", "--orphans", "--older-than", "0s"]));
    let out = ok(env.cmd(["--json", "verify"]));
    assert_eq!(json_summary(&out)["problems"], 0);
    let _ = fs::remove_dir_all(env.path().join("more"));
}

/// After `rm`, the removed entry's name and source and the object's bytes
/// are in no file of the store: not the manifest, not the catalog (its
/// index, its names, the files cache), not a temp file.
#[test]
fn after_rm_the_name_and_the_bytes_are_in_no_file_of_the_store() {
    let env = Env::new();
    let secret = b"the bytes someone has the right to have erased: 7c1d55a9\n".repeat(40);
    env.write("in/Q3-layoffs-draft-5b2f.txt", &secret);
    env.write("in/kept.txt", b"kept\n");
    age_files();
    ok(env.cmd(["-q", "in"]));
    // The catalog's entries made too (the server's pages, stats).
    ok(env.cmd(["-q", "stats"]));
    ok(env.cmd(["-q", "rm", "--name", "Q3-layoffs-*"]));
    let needles: [&[u8]; 3] = [
        b"Q3-layoffs-draft-5b2f",
        b"layoffs-draft",
        b"someone has the right to have erased",
    ];
    for file in files_under(&env.store()) {
        let bytes = fs::read(&file).unwrap();
        for needle in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} still holds {:?}",
                file.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
    assert_eq!(names(&env), ["kept.txt"]);
}

/// `rm --block`: the bytes are refused from then on, by add (exit 3, the
/// reason said) and by the server (403), wherever they come from.
#[test]
fn rm_block_keeps_the_bytes_from_coming_back() {
    use crate::harness::served::{Served, file_arg};
    let env = stocked();
    let alone = noise(5000, 3);
    ok(env.cmd(["-q", "rm", "--block", "--name", "alone.bin"]));
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(env.store().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["blocked"][0], sha256_hex(&alone));
    // The nightly run over the same folder, and the bytes under another
    // name: both refused.
    let again = env.write("other/renamed.bin", &alone);
    let out = env
        .cmd(["--json", "in", again.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let refused: Vec<_> = json_lines(&out)
        .into_iter()
        .filter(|l| l["status"] == "rejected")
        .collect();
    assert_eq!(refused.len(), 2, "{}", stdout_of(&out));
    assert!(refused.iter().all(|l| l["reason"] == "blocked"));
    assert!(!env.object(&sha256_hex(&alone)).exists());
    let server = Served::start(&env, &[]);
    let (status, body) = server.json(&["-T", &file_arg(&again), &server.url("/v1/files/x.bin")]);
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("blocked"), "{body}");
    // Other bytes still go in.
    let fine = env.write("fine.txt", b"fine\n");
    let (status, _) = server.json(&["-T", &file_arg(&fine), &server.url("/v1/files/fine.txt")]);
    assert_eq!(status, 201);
}

/// Retention as cron would run it: by source and by date; and by type.
#[test]
fn rm_picks_by_source_and_date() {
    let env = stocked();
    let out = ok(env.cmd(["--json", "rm", "--dry-run", "--mime", "text/*"]));
    let mut picked: Vec<String> = json_lines(&out)
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    picked.sort();
    assert_eq!(picked, ["gone.txt", "keep.txt"]);
    ok(env.cmd(["-q", "rm", "--mime", "application/*"]));
    assert_eq!(names(&env), ["gone.txt", "keep.txt"]);
    ok(env.cmd(["-q", "in/alone.bin"]));
    // Nothing was stored before 2000: nothing goes.
    ok(env.cmd(["-q", "rm", "--until", "2000"]));
    assert_eq!(names(&env), ["alone.bin", "gone.txt", "keep.txt"]);
    let out = ok(env.cmd(["rm", "--source", "*/in/*.txt", "--until", "2999"]));
    assert_says(&stderr_of(&out), "removed 2 entries; deleted 1 object");
    assert_eq!(names(&env), ["alone.bin"]);
    let out = ok(env.cmd(["--json", "ls", "--source", "*/in/alone.bin"]));
    assert_eq!(json_lines(&out).len(), 1);
}

/// `ingest block`: a list of hashes imported from `sha256sum` output is
/// refused from then on, listed, and let in again once taken off.
#[test]
fn block_lists_imports_and_unblocks_hashes() {
    let env = stocked();
    let bad = env.write("bad/known-bad.bin", &noise(4000, 99));
    let sums = env.write(
        "bad.sha256",
        format!("{}  known-bad.bin\n# a comment\n", sha256_file(&bad)).as_bytes(),
    );
    ok(env.cmd(["-q", "block", "add", "--from", sums.to_str().unwrap()]));
    let out = ok(env.cmd(["block", "ls"]));
    assert_eq!(stdout_of(&out).trim(), sha256_file(&bad));
    let out = env.cmd(["--json", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json_lines(&out)[0]["reason"], "blocked");
    // Inside a phone backup too.
    let backup = crate::harness::mms_xml::backup(&[crate::harness::mms_xml::mms(
        1_700_000_000_000,
        "+15550100",
        &[crate::harness::mms_xml::part(
            "application/octet-stream",
            "bad.bin",
            &noise(4000, 99),
        )],
    )]);
    let backup = env.write("sms.xml", &backup);
    let out = env
        .cmd(["--json", "mms", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_eq!(json_lines(&out)[0]["reason"], "blocked");
    // A prefix is not enough to block: the bytes may not be stored.
    let out = env.cmd(["block", "add", "abcdef"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_says(&stderr_of(&out), "64 hex digits");
    ok(env.cmd(["-q", "block", "rm", &sha256_file(&bad)]));
    assert_eq!(stdout_of(&ok(env.cmd(["block", "ls"]))).trim(), "");
    let out = ok(env.cmd(["--json", bad.to_str().unwrap()]));
    assert_eq!(json_lines(&out)[0]["status"], "new");
}

/// A running server answers for what `rm` removed at once: gone from its
/// pages, 404 for the object.
#[test]
fn a_running_server_forgets_what_rm_removed() {
    use crate::harness::served::Served;
    let env = stocked();
    let alone = sha256_hex(&noise(5000, 3));
    let server = Served::start(&env, &[]);
    let object_status = || {
        let url = server.url(&format!("/v1/objects/{alone}"));
        server.curl(&["-o", "/dev/null", &url]).0
    };
    let upload = |name: &str, bytes: &[u8]| {
        let file = env.write(name, bytes);
        let url = server.url(&format!("/v1/files/{name}"));
        server
            .json(&["-T", &crate::harness::served::file_arg(&file), &url])
            .0
    };
    assert_eq!(object_status(), 200);
    // An upload first, so the server holds the manifest open.
    assert_eq!(upload("before.txt", b"before the removal\n"), 201);
    let (_, page) = server.json(&[&server.url("/v1/entries")]);
    assert_eq!(page["entries"].as_array().unwrap().len(), 4);
    ok(env.cmd(["-q", "rm", "--name", "alone.bin"]));
    let (_, page) = server.json(&[&server.url("/v1/entries")]);
    let listed: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(!listed.contains(&"alone.bin"), "{listed:?}");
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(object_status(), 404);
    // An upload after the removal goes into the new manifest (the server
    // held the old one open, and must not append to it).
    assert_eq!(upload("after.txt", b"after the removal\n"), 201);
    assert_eq!(
        names(&env),
        ["after.txt", "before.txt", "gone.txt", "keep.txt"]
    );
}
