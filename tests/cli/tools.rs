//! The store tools: ls, cat, export, verify, gc and stats, on real stores,
//! some damaged on purpose.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, symlink};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::util::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/media");

/// A store with a photo, a clip, a note, and the photo again under a
/// second name.
fn stocked() -> Env {
    let env = Env::new();
    env.write(
        "in/photo.png",
        &fs::read(format!("{FIXTURES}/photo.png")).unwrap(),
    );
    env.write(
        "in/clip.mp4",
        &fs::read(format!("{FIXTURES}/clip.mp4")).unwrap(),
    );
    env.write("in/note.txt", b"a note\n");
    env.write(
        "in/zz/copy.png",
        &fs::read(format!("{FIXTURES}/photo.png")).unwrap(),
    );
    ok(env.cmd(["-q", "in"]));
    env
}

fn hex_of(env: &Env, name: &str) -> String {
    env.manifest()
        .iter()
        .find(|l| l["name"] == name)
        .map(|l| l["sha256"].as_str().unwrap().to_owned())
        .unwrap()
}

#[test]
fn ls_lists_oldest_first_as_a_table_or_the_lines_themselves() {
    let env = stocked();
    let out = ok(env.cmd(["ls"]));
    let rows: Vec<_> = stdout_of(&out).lines().map(str::to_owned).collect();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[0].starts_with(&hex_of(&env, "clip.mp4")[..12]),
        "{rows:?}"
    );
    assert!(
        rows[0].contains("video/mp4") && rows[0].ends_with("clip.mp4"),
        "{rows:?}"
    );
    assert!(rows[0].contains("2.00 KiB"), "{rows:?}");

    // The lines themselves, byte for byte, each with its id put first.
    let out = ok(env.cmd(["ls", "--json"]));
    let manifest = fs::read_to_string(env.store().join("manifest.jsonl")).unwrap();
    let shown = stdout_of(&out);
    assert_eq!(shown.lines().count(), manifest.lines().count());
    for (shown, line) in shown.lines().zip(manifest.lines()) {
        let (id, rest) = shown.split_once(',').unwrap();
        assert!(id.starts_with("{\"id\":\"") && id.len() == 40, "{shown}");
        assert_eq!(rest, &line[1..], "{shown}");
    }
}

#[test]
fn ls_filters_by_type_name_and_date() {
    let env = stocked();
    let names = |args: &[&str]| -> Vec<String> {
        let out = ok(env.cmd(["ls", "--json"]).args(args));
        stdout_of(&out)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(names(&["--mime", "image/*"]), ["photo.png", "copy.png"]);
    assert_eq!(names(&["--name", "*.txt"]), ["note.txt"]);
    assert_eq!(names(&["--since", "2000-01-01"]).len(), 4);
    assert!(names(&["--since", "2999-01-01T00:00:00Z"]).is_empty());
    // Prefixes that end at a field, as the server's entries take them.
    assert_eq!(names(&["--since", "2000"]).len(), 4);
    assert_eq!(names(&["--since", "2000-01"]).len(), 4);
    assert!(names(&["--since", "2999-12-31T23:59"]).is_empty());
    // A usage error (2), as the manual says of every usage error.
    let refused = env.cmd(["ls", "--since", "yesterday"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--since") && said.contains("yesterday"),
        "{said}"
    );
}

#[test]
fn global_options_go_before_or_after_the_subcommand() {
    let env = stocked();
    let mut before = bare_cmd();
    before
        .arg("--store")
        .arg(env.store())
        .args(["--json", "ls"]);
    let mut after = bare_cmd();
    after.args(["ls", "--json", "--store"]).arg(env.store());
    assert_eq!(ok(before).stdout, ok(after).stdout);
}

#[test]
fn tools_on_a_missing_store_fail_clearly() {
    let env = Env::new();
    let out = env.cmd(["ls"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_says(&stderr_of(&out), "no store at");
    assert!(!env.store().exists());
}

#[test]
fn ls_into_a_closed_pipe_exits_quietly() {
    let env = Env::new();
    for i in 0..3000 {
        env.write(format!("in/{i}.txt"), format!("{i}\n").as_bytes());
    }
    ok(env.cmd(["-q", "--sync", "batch", "in"]));
    let mut child = env
        .cmd(["ls"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
}

#[test]
fn cat_streams_an_object_by_hash_or_unique_prefix() {
    let env = stocked();
    let hex = hex_of(&env, "clip.mp4");
    let clip = fs::read(format!("{FIXTURES}/clip.mp4")).unwrap();
    assert_eq!(ok(env.cmd(["cat", &hex])).stdout, clip);
    assert_eq!(ok(env.cmd(["cat", &hex[..6]])).stdout, clip);
    assert_eq!(ok(env.cmd(["cat", &hex[..10].to_uppercase()])).stdout, clip);

    let out = env.cmd(["cat", &hex[..5]]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = env.cmd(["cat", "ffffff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_says(
        &stderr_of(&out),
        "no object has a hash starting with ffffff",
    );

    // A second object sharing the first 6 digits makes the prefix ambiguous.
    let twin = format!("{}{}", &hex[..6], "0".repeat(58));
    fs::write(env.object(&twin), b"twin").unwrap();
    let out = env.cmd(["cat", &hex[..6]]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_says(&stderr_of(&out), "is ambiguous");
    assert_eq!(ok(env.cmd(["cat", &hex[..7]])).stdout, clip);
}

/// Appends a manifest line naming an existing object under `name` (which
/// may hold anything JSON can: newlines, NUL), and `raw` bytes for a name
/// that is not UTF-8.
fn add_entry(env: &Env, hex: &str, size: u64, name: &str, raw: Option<&[u8]>) {
    let mut line = json!({
        "sha256": hex, "size": size, "mime": "image/png", "ext": "png", "name": name,
        "source": "/phone/backup.xml", "ingested_at": "2026-11-23T00:00:00Z", "new": false,
    });
    if let Some(raw) = raw {
        use base64::Engine;
        line["name_b64"] = base64::engine::general_purpose::STANDARD.encode(raw).into();
    }
    let mut manifest = fs::OpenOptions::new()
        .append(true)
        .open(env.store().join("manifest.jsonl"))
        .unwrap();
    writeln!(manifest, "{line}").unwrap();
}

#[test]
fn export_makes_hostile_names_safe_and_never_writes_outside_dest() {
    let env = stocked();
    let png = hex_of(&env, "photo.png");
    let size = fs::metadata(env.object(&png)).unwrap().len();
    let long = "x".repeat(300) + ".png";
    let hostile = [
        "../../etc/passwd",
        "/abs/path",
        "a/../../b",
        "new\nline.png",
        "nul\u{0}byte.png",
        long.as_str(),
        "..",
        "CON.png",
        "evil.png",
    ];
    for name in hostile {
        add_entry(&env, &png, size, name, None);
    }
    add_entry(&env, &png, size, "caf\u{fffd}.png", Some(b"caf\xe9.png"));
    let dest = env.path().join("dest");
    let outside = env.path().join("outside");
    fs::create_dir_all(&dest).unwrap();
    fs::create_dir_all(&outside).unwrap();
    symlink(outside.join("evil.png"), dest.join("evil.png")).unwrap();

    let out = env
        .cmd(["export", "--link", "copy"])
        .arg(&dest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        fs::read_dir(&outside).unwrap().next().is_none(),
        "wrote outside DEST"
    );
    assert!(!env.path().join("etc").exists() && !env.path().join("b").exists());
    // Every exported file is a direct child of DEST and hashes to its entry.
    let checked = env.sha256sum_check(&out.stdout);
    assert!(checked.status.success(), "{}", stdout_of(&checked));
    let mut names: Vec<String> = fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    for name in &names {
        assert!(
            name.len() <= 255 && !name.contains('/') && !name.chars().any(char::is_control),
            "{name:?}"
        );
        let meta = fs::symlink_metadata(dest.join(name)).unwrap();
        assert!(meta.is_file() || name == "evil.png", "{name}");
    }
    for expected in [
        ".._.._etc_passwd",
        "_abs_path",
        "a_.._.._b",
        "new_line.png",
        "nul_byte.png",
        "unnamed.png",
        "_CON.png",
        "caf_.png",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("xxxx") && n.ends_with(".png") && n.len() <= 255)
    );
    // The planted symlink was left alone (exists), not followed.
    assert!(
        fs::symlink_metadata(dest.join("evil.png"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_says(&stderr_of(&out), "evil.png: exists");

    // --overwrite replaces the symlink itself; still nothing outside.
    ok(env
        .cmd(["export", "--overwrite", "--name", "evil.png"])
        .arg(&dest));
    assert!(
        fs::symlink_metadata(dest.join("evil.png"))
            .unwrap()
            .is_file()
    );
    assert!(fs::read_dir(&outside).unwrap().next().is_none());
    assert_eq!(sha256_file(&dest.join("evil.png")), png);
}

#[test]
fn export_numbers_clashing_names_links_or_copies_and_never_overwrites() {
    let env = stocked();
    let clip = hex_of(&env, "clip.mp4");
    let size = fs::metadata(env.object(&clip)).unwrap().len();
    add_entry(&env, &clip, size, "photo.png", None); // same name, other content
    let dest = env.path().join("dest");

    let out = ok(env.cmd(["export", "--json", "--link", "hard"]).arg(&dest));
    let exported: Vec<Value> = stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        exported.iter().all(|l| l["status"] == "exported"),
        "{exported:?}"
    );
    assert_eq!(
        sha256_file(&dest.join("photo.png")),
        hex_of(&env, "photo.png")
    );
    assert_eq!(sha256_file(&dest.join("photo (2).png")), clip);
    let object_ino = fs::metadata(env.object(&clip)).unwrap().ino();
    assert_eq!(
        fs::metadata(dest.join("clip.mp4")).unwrap().ino(),
        object_ino
    );

    // Again: everything exists, nothing is overwritten.
    fs::remove_file(dest.join("note.txt")).unwrap();
    fs::write(dest.join("note.txt"), b"edited by hand").unwrap();
    let out = ok(env.cmd(["export", "--json", "--link", "copy"]).arg(&dest));
    let statuses: Vec<String> = stdout_of(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(statuses.iter().all(|s| s == "exists"), "{statuses:?}");
    assert_eq!(fs::read(dest.join("note.txt")).unwrap(), b"edited by hand");

    // By hash, copied: a new inode with the same bytes.
    let other = env.path().join("other");
    ok(env
        .cmd(["export", "--link", "copy"])
        .arg(&other)
        .arg(&clip[..8]));
    assert_eq!(
        fs::read_dir(&other).unwrap().count(),
        2,
        "both entries of that object"
    );
    assert_ne!(
        fs::metadata(other.join("clip.mp4")).unwrap().ino(),
        object_ino
    );
    assert_eq!(sha256_file(&other.join("clip.mp4")), clip);
}

#[test]
fn verify_finds_and_counts_every_kind_of_damage() {
    let env = stocked();
    ok(env.cmd(["verify"]));
    let png = hex_of(&env, "photo.png");
    let clip = hex_of(&env, "clip.mp4");
    let note = hex_of(&env, "note.txt");
    // Flip a byte in an object.
    let path = env.object(&png);
    let mut bytes = fs::read(&path).unwrap();
    bytes[10] ^= 0xff;
    fs::remove_file(&path).unwrap();
    fs::write(&path, &bytes).unwrap();
    // Delete an object, add an orphan, leave a temp file, tear the manifest.
    fs::remove_file(env.object(&clip)).unwrap();
    let orphan = sha256_hex(b"orphan\n");
    fs::create_dir_all(env.object(&orphan).parent().unwrap()).unwrap();
    fs::write(env.object(&orphan), b"orphan\n").unwrap();
    fs::write(env.store().join("tmp/ingest-crashed.tmp"), b"partial").unwrap();
    let mut manifest = fs::OpenOptions::new()
        .append(true)
        .open(env.store().join("manifest.jsonl"))
        .unwrap();
    manifest
        .write_all(b"not json at all\n{\"sha256\":\"to")
        .unwrap();
    drop(manifest);

    let out = env.cmd(["verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let lines: Vec<Value> = stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["problem"].as_str()).collect();
    for kind in ["corrupt", "missing", "orphan", "temp", "unreadable", "torn"] {
        assert_eq!(
            kinds.iter().filter(|k| **k == kind).count(),
            1,
            "{kind} in {kinds:?}"
        );
    }
    assert_eq!(lines.last().unwrap()["summary"]["problems"], 6);
    assert!(!env.object(&png).exists(), "corrupt object not quarantined");
    assert_eq!(
        fs::read_dir(env.store().join("quarantine"))
            .unwrap()
            .count(),
        1
    );
    assert_says(&stderr_of(&out), "6 problems");
    assert!(env.object(&note).exists());

    // Ingesting the good bytes again restores the quarantined object.
    let out = ok(env.cmd(["--json", "in/photo.png", "--no-cache"]));
    assert_eq!(json_lines(&out)[0]["status"], "new");
    assert_eq!(sha256_file(&env.object(&png)), png);
}

#[test]
fn verify_quick_checks_presence_and_sizes_without_reading() {
    let env = stocked();
    // Objects much larger than the manifest and the catalog, so that
    // reading them would show.
    env.write("in/big.bin", &noise(4 << 20, 11));
    ok(env.cmd(["-q", "in"]));
    let clip = hex_of(&env, "clip.mp4");
    let path = env.object(&clip);
    let mut bytes = fs::read(&path).unwrap();
    bytes.push(0);
    fs::remove_file(&path).unwrap();
    fs::write(&path, &bytes).unwrap();
    let (out, read) = env.bytes_read_by(&["verify", "--quick"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(read < 1 << 20, "read {read} bytes");
    let out = env.cmd(["verify", "--quick"]).output().unwrap();
    assert!(
        stdout_of(&out).contains(&format!("size: {}", path.display())),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn an_object_replaced_by_a_folder_is_reported_not_a_panic() {
    let env = stocked();
    let note = hex_of(&env, "note.txt");
    fs::remove_file(env.object(&note)).unwrap();
    fs::create_dir(env.object(&note)).unwrap();
    let out = env.cmd(["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    assert!(
        text.contains("stray: ") && text.contains("missing: "),
        "{text}"
    );
}

#[test]
fn gc_removes_old_leftovers_and_old_orphans_only() {
    let env = stocked();
    let tmp = env.store().join("tmp");
    let hour_ago = SystemTime::now() - Duration::from_secs(7200);
    let old = tmp.join("ingest-old.tmp");
    fs::write(&old, vec![0u8; 1000]).unwrap();
    fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let recent = tmp.join("ingest-recent.tmp");
    fs::write(&recent, b"in flight").unwrap();
    // An old temp file a running ingest still holds.
    let held_path = tmp.join("ingest-held.tmp");
    fs::write(&held_path, b"held").unwrap();
    let held = fs::File::options().write(true).open(&held_path).unwrap();
    held.set_modified(hour_ago).unwrap();
    held.lock().unwrap();

    let orphan = sha256_hex(b"orphan\n");
    fs::create_dir_all(env.object(&orphan).parent().unwrap()).unwrap();
    fs::write(env.object(&orphan), b"orphan\n").unwrap();
    let young = sha256_hex(b"young orphan\n");
    fs::create_dir_all(env.object(&young).parent().unwrap()).unwrap();
    fs::write(env.object(&young), b"young orphan\n").unwrap();
    fs::File::options()
        .write(true)
        .open(env.object(&orphan))
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();

    let out = ok(env.cmd(["gc", "--orphans", "--dry-run"]));
    assert!(
        stdout_of(&out).contains("would remove temp file"),
        "{}",
        stdout_of(&out)
    );
    assert!(old.exists() && env.object(&orphan).exists());

    let out = ok(env.cmd(["gc"]));
    assert!(!old.exists() && recent.exists() && held_path.exists());
    assert!(
        env.object(&orphan).exists(),
        "orphans removed without --orphans"
    );
    assert_says(&stderr_of(&out), "1 file, freed 1000 B");

    let out = ok(env.cmd(["gc", "--orphans"]));
    assert!(!env.object(&orphan).exists() && env.object(&young).exists());
    assert!(
        stdout_of(&out).contains("removed orphan object"),
        "{}",
        stdout_of(&out)
    );
    drop(held);
    for line in env.manifest() {
        assert!(env.object(line["sha256"].as_str().unwrap()).exists());
    }
}

#[test]
fn stats_counts_objects_entries_savings_and_types() {
    let env = stocked();
    let out = ok(env.cmd(["stats", "--json"]));
    let stats: Value = serde_json::from_str(stdout_of(&out).trim()).unwrap();
    let png = fs::metadata(format!("{FIXTURES}/photo.png")).unwrap().len();
    assert_eq!(stats["objects"], 3);
    assert_eq!(stats["entries"], 4);
    assert_eq!(stats["dedup_saved_bytes"], png);
    assert_eq!(stats["by_mime"]["image/png"]["entries"], 2);
    assert_eq!(stats["by_mime"]["image/png"]["bytes"], png);
    let human = stdout_of(&ok(env.cmd(["stats"])));
    assert!(
        human.contains("objects        3") && human.contains("dedup saved    82 B"),
        "{human}"
    );
}

#[test]
fn a_file_named_like_a_subcommand_is_stored_with_add_or_dashes() {
    let env = Env::new();
    env.write("ls", b"a file called ls\n");
    let out = ok(env.cmd(["add", "ls"]));
    assert_eq!(
        stdout_of(&out),
        format!("{}  ls\n", sha256_hex(b"a file called ls\n"))
    );
    let out = ok(env.cmd(["--", "ls"]));
    assert!(stdout_of(&out).ends_with("  ls\n"));
    let out = ok(env.cmd(["./ls"]));
    assert!(stdout_of(&out).ends_with("  ./ls\n"));
}

/// `cmd` with its stdout on `/dev/full`: every write fails with ENOSPC.
fn into_full(mut cmd: Command) -> std::process::Output {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    cmd.stdout(full).stderr(Stdio::piped()).output().unwrap()
}

#[test]
fn stats_into_a_closed_or_full_stdout_fails_cleanly() {
    let env = stocked();
    for json in [false, true] {
        let mut args = vec!["stats"];
        if json {
            args.insert(0, "--json");
        }
        let out = into_full(env.cmd(&args));
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        assert!(!stderr_of(&out).contains("panicked"), "{}", stderr_of(&out));
        let mut child = env
            .cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    }
}

#[test]
fn token_add_keeps_no_token_it_could_not_show() {
    let env = stocked();
    let out = into_full(env.cmd(["token", "add", "phone"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "not made");
    let listed = ok(env.cmd(["token", "ls"]));
    assert!(
        !stdout_of(&listed).contains("phone"),
        "{}",
        stdout_of(&listed)
    );
}

#[test]
fn gc_takes_ages_in_weeks_months_and_years() {
    let env = stocked();
    for age in ["1y", "2mo", "3w", "36h"] {
        ok(env.cmd(["gc", "--older-than", age]));
    }
    let out = env.cmd(["gc", "--older-than=-1d"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_says(&stderr_of(&out), "not a negative one");
}

#[test]
fn cat_of_a_damaged_object_fails_after_its_bytes() {
    let env = stocked();
    let hex = hex_of(&env, "note.txt");
    let path = env.object(&hex);
    let mut perms = fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&path, perms).unwrap();
    fs::write(&path, b"a nose\n").unwrap();
    let out = env.cmd(["cat", &hex]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"a nose\n");
    assert_says(&stderr_of(&out), "damaged");
}

/// `gc --older-than 0s` over and over beside an import of many small files
/// (each staged as a temp file that gc must leave to its writer): the
/// import always finishes, whole. (Before writers checked their lock,
/// this failed in one round in three or more.) Seeded by the round count only.
#[test]
fn gc_never_takes_a_temp_file_from_a_running_writer() {
    const FILES: u64 = 1500;
    for round in 0..3 {
        let env = Env::new();
        for i in 0..FILES {
            env.write(format!("in/{i}.bin"), &noise(200, 2 * (10_000 * round + i)));
        }
        ok(env.cmd(["-q", "in/0.bin"]));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let gc = {
            let stop = std::sync::Arc::clone(&stop);
            let store = env.store();
            std::thread::spawn(move || {
                let mut runs = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out = bare_cmd()
                        .args(["--progress", "never", "-q", "--store"])
                        .arg(&store)
                        .args(["gc", "--older-than", "0s"])
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{}", stderr_of(&out));
                    runs += 1;
                }
                runs
            })
        };
        let out = env.cmd(["-q", "--sync", "file", "in"]).output().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let runs = gc.join().unwrap();
        assert!(runs > 3, "round {round}: gc ran {runs} times only");
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            stderr_of(&out)
        );
        assert_eq!(env.objects().len(), FILES as usize, "round {round}");
        env.assert_store_valid();
    }
}

#[test]
fn mistakes_on_the_command_line_say_what_to_do() {
    let env = stocked();
    // A date filter that means nothing is a usage error, as on the server.
    for command in ["ls", "export"] {
        let mut args = vec![command, "--since", "yesterday"];
        if command == "export" {
            args.push("out");
        }
        let out = env.cmd(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr_of(&out));
        assert_says(&stderr_of(&out), "--since");
    }
    // A --store that is a file is named as such, reading or writing.
    let file = env.write("not-a-store", b"x");
    for args in [vec!["ls"], vec!["in/note.txt"]] {
        let out = bare_cmd()
            .arg("--store")
            .arg(&file)
            .args(&args)
            .current_dir(env.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        assert_says(&stderr_of(&out), "is a file, not a store");
    }
    // One of a thing is said in the singular.
    let single = Env::new();
    single.write("one.txt", b"one\n");
    ok(single.cmd(["-q", "one.txt"]));
    let out = ok(single.cmd(["verify"]));
    assert_says(&stderr_of(&out), "verified 1 object (");
    assert_says(&stderr_of(&out), "1 manifest entry:");
}
