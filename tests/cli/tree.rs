//! Recorded paths and `export --tree`: a folder imported night after night
//! comes back as it was, and no recorded path writes outside DEST.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::*;

/// A tree of `folders` nested folders holding `files` files whose names
/// collide across folders, with spaces and Unicode.
fn grow(root: &Path, folders: usize, files: usize, seed: u64) {
    for i in 0..files {
        let depth = i % folders;
        let mut dir = root.to_path_buf();
        for level in 0..(1 + depth % 4) {
            dir.push(format!("album {} é{}", depth / 4 + level, level));
        }
        dir.push(format!("dir{depth}"));
        fs::create_dir_all(&dir).unwrap();
        let name = match i % 3 {
            0 => "IMG 0001.jpg".to_owned(),
            1 => format!("photo-{}.bin", i % 7),
            _ => format!("notes ✓ {i}.txt"),
        };
        fs::write(dir.join(name), noise(200 + i % 500, seed + 2 * i as u64)).unwrap();
    }
}

/// A copy of `from` at `to`, as the night left it.
fn keep_aside(from: &Path, to: &Path) {
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// The time the manifest's lines carry: whole seconds, so the nights are
/// a second apart at least.
fn now_second() -> String {
    let now = jiff::Timestamp::now();
    std::thread::sleep(Duration::from_millis(1100));
    jiff::Timestamp::from_second(now.as_second())
        .unwrap()
        .to_string()
}

/// Deletes every `every`-th file of the tree (from `offset`), and on the
/// way one whole folder; returns the paths deleted, relative to `root`.
fn delete_some(root: &Path, every: usize, offset: usize) -> Vec<std::path::PathBuf> {
    let mut files = files_under(root);
    files.sort();
    let mut deleted = Vec::new();
    for file in files.iter().skip(offset).step_by(every) {
        if file.exists() {
            fs::remove_file(file).unwrap();
            deleted.push(file.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    let folder = files[offset * 7 % files.len()]
        .parent()
        .unwrap()
        .to_path_buf();
    for file in files_under(&folder) {
        deleted.push(file.strip_prefix(root).unwrap().to_path_buf());
    }
    fs::remove_dir_all(&folder).unwrap();
    deleted
}

/// Three nights over one folder of 2,000 files in 100 folders: files
/// edited, added and deleted between them (a folder at a time too), and one
/// deleted file put back as it was. `export --tree --as-of` each night
/// gives back that night's tree exactly, and `--tree` alone the latest.
#[test]
fn export_tree_as_of_each_night_gives_back_that_nights_tree() {
    let env = Env::new();
    let photos = env.path().join("Photos");
    grow(&photos, 100, 2000, 1);
    let mut nights: Vec<(String, std::path::PathBuf)> = Vec::new();
    let mut deleted = Vec::new();
    for night in 0..3 {
        if night > 0 {
            // Deletions, then edits (same paths, new bytes) and additions.
            deleted = delete_some(&photos, 37, night * 5);
            if night == 2 {
                // Put back as it was, one deleted the night before.
                let back = &deleted_before(&deleted, &nights, &photos);
                keep_aside(&nights[0].1.join("Photos").join(back), &photos.join(back));
            }
            grow(&photos, 100, 40 * night, 10_000 * night as u64 + 1);
            fs::create_dir_all(photos.join(format!("new {night}"))).unwrap();
            fs::write(
                photos.join(format!("new {night}/added.txt")),
                format!("night {night}\n"),
            )
            .unwrap();
        }
        std::thread::sleep(Duration::from_millis(1100));
        ok(env.cmd([std::ffi::OsStr::new("-q"), photos.as_os_str()]));
        let aside = env.path().join(format!("night{night}"));
        fs::create_dir_all(&aside).unwrap();
        keep_aside(&photos, &aside);
        nights.push((now_second(), aside));
    }
    assert!(!deleted.is_empty());
    let out = ok(env.cmd(["ls", "--path", "Photos/new 1/"]));
    assert!(
        stdout_of(&out).contains("Photos/new 1/added.txt"),
        "{}",
        stdout_of(&out)
    );
    for (night, (at, aside)) in nights.iter().enumerate() {
        let dest = env.path().join(format!("restored{night}"));
        let out = ok(env
            .cmd(["-q", "export", "--tree", "--as-of", at])
            .arg(&dest));
        assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
        assert_same_tree(&dest, aside, &format!("night {night} ({at})"));
    }
    let latest = env.path().join("latest");
    ok(env.cmd(["-q", "export", "--tree"]).arg(&latest));
    assert_same_tree(&latest, &nights[2].1, "the latest");
    // Every version, dated: the edited files more than once.
    let all = env.path().join("all");
    ok(env
        .cmd(["-q", "export", "--tree", "--all-versions"])
        .arg(&all));
    let written = files_under(&all).len();
    assert_eq!(written, env.manifest().len(), "one file per version");
    assert!(written > files_under(&nights[2].1).len(), "{written} files");
    // A subtree by path prefix.
    let part = env.path().join("part");
    ok(env
        .cmd(["-q", "export", "--tree", "--path", "Photos/new 2/"])
        .arg(&part));
    assert_eq!(files_under(&part).len(), 1);
    assert!(part.join("Photos/new 2/added.txt").is_file());
}

/// A file deleted on night 1 that night 2 has not deleted again, whose
/// folder is still there: one to put back as it was.
fn deleted_before(
    tonight: &[std::path::PathBuf],
    nights: &[(String, std::path::PathBuf)],
    photos: &Path,
) -> std::path::PathBuf {
    let night1 = &nights[1].1.join("Photos");
    files_under(&nights[0].1.join("Photos"))
        .into_iter()
        .map(|f| {
            f.strip_prefix(nights[0].1.join("Photos"))
                .unwrap()
                .to_path_buf()
        })
        .find(|rel| {
            !night1.join(rel).exists()
                && !tonight.contains(rel)
                && photos.join(rel).parent().unwrap().is_dir()
        })
        .expect("a file deleted on night 1")
}

/// Recorded paths that would climb out of DEST, start at the root, hold a
/// NUL or name a folder through a symlink planted in DEST: nothing is
/// written outside DEST; each refusal is named; exit 3.
#[test]
fn no_recorded_path_writes_outside_dest() {
    let env = Env::new();
    env.write("in/a.txt", b"a\n");
    ok(env.cmd(["-q", "in"]));
    let base = env.manifest()[0].clone();
    let outside = env.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let long = "x".repeat(300);
    let mut lines = String::new();
    for (i, path) in [
        "../escaped.txt",
        "in/../../escaped.txt",
        "/etc/passwd",
        "nul\u{0}byte.txt",
        "a//b/./c.txt",
        "link/inside.txt",
        &format!("{long}/{long}.txt"),
        "clash",
        "clash/under.txt",
    ]
    .iter()
    .enumerate()
    {
        let mut line = base.clone();
        line["path"] = serde_json::Value::String((*path).to_owned());
        line["source"] = serde_json::Value::String(format!("/hostile/{i}"));
        lines.push_str(&format!("{line}\n"));
    }
    fs::write(env.store().join("manifest.jsonl"), lines).unwrap();
    let dest = env.path().join("dest");
    fs::create_dir_all(&dest).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("link")).unwrap();
    let out = env.cmd(["export", "--tree"]).arg(&dest).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let said = stderr_of(&out);
    for refused in [
        "../escaped.txt",
        "in/../../escaped.txt",
        "/etc/passwd",
        "nul\\u{0}byte.txt",
    ] {
        assert!(said.contains(refused), "{refused} is not named: {said}");
    }
    assert!(
        files_under(&outside).is_empty(),
        "{:?}",
        files_under(&outside)
    );
    assert!(!env.path().join("escaped.txt").exists());
    // What could be written is, below DEST: empty and `.` parts dropped,
    // the symlinked folder's place taken by a real folder beside it, long
    // names cut, a file and a folder of one name both kept.
    assert!(dest.join("a/b/c.txt").is_file());
    assert!(dest.join("link (folder)/inside.txt").is_file());
    assert!(dest.join("clash").is_file() || dest.join("clash").is_dir());
    let written = files_under(&dest);
    assert!(
        written.iter().any(|p| p.ends_with("under.txt")),
        "{written:?}"
    );
    assert!(
        written
            .iter()
            .all(|p| p.components().all(|c| c.as_os_str().len() <= 255)),
        "{written:?}"
    );
}

/// Uploads keep their folders: a name with slashes (PUT, multipart) and
/// tus's `relativePath` record a path, made safe on the way in, and
/// `export --tree` puts each file back in its folder.
#[test]
fn uploads_keep_their_folders() {
    use crate::harness::served::{Served, file_arg};
    use base64::Engine as _;
    let env = Env::new();
    let server = Served::start(&env, &[]);
    let file = env.write("diagram.png", &noise(900, 21));
    let url = server.url("/v1/files/attachments%2F2024%2Fdiagram.png");
    assert_eq!(server.json(&["-T", &file_arg(&file), &url]).0, 201);
    let other = env.write("other.png", &noise(900, 23));
    let form = format!(
        "file=@{};filename=attachments/2025/diagram.png",
        other.display()
    );
    assert_eq!(
        server.json(&["-F", &form, &server.url("/v1/upload")]).0,
        200
    );
    // Climbing out: kept by its name alone.
    let third = env.write("third.txt", b"third\n");
    let url = server.url("/v1/files/..%2F..%2Fescape.txt");
    assert_eq!(server.json(&["-T", &file_arg(&third), &url]).0, 201);
    // tus, as Uppy sends a dropped folder's file.
    let meta = format!(
        "Upload-Metadata: filename {},relativePath {}",
        base64::engine::general_purpose::STANDARD.encode("note.md"),
        base64::engine::general_purpose::STANDARD.encode("vault/notes/note.md")
    );
    let auth = format!("Authorization: Bearer {}", server.token);
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args([
            "-H",
            &auth,
            "-H",
            "Tus-Resumable: 1.0.0",
            "-H",
            "Upload-Length: 6",
            "-H",
            &meta,
        ])
        .args([
            "-H",
            "Content-Type: application/offset+octet-stream",
            "--data-binary",
            "# note",
        ])
        .arg(server.url("/v1/tus/"))
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "201");
    // The server's pages narrow to a folder.
    let (_, page) = server.json(&[&server.url("/v1/entries?path=attachments/2024/")]);
    let listed = page["entries"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{page}");
    assert_eq!(listed[0]["path"], "attachments/2024/diagram.png");
    assert!(server.stop());
    let paths: Vec<(String, String)> = env
        .manifest()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            ("diagram.png".into(), "attachments/2024/diagram.png".into()),
            ("diagram.png".into(), "attachments/2025/diagram.png".into()),
            ("escape.txt".into(), String::new()),
            ("note.md".into(), "vault/notes/note.md".into()),
        ]
    );
    let dest = env.path().join("dest");
    ok(env.cmd(["-q", "export", "--tree"]).arg(&dest));
    assert!(dest.join("attachments/2024/diagram.png").is_file());
    assert!(dest.join("attachments/2025/diagram.png").is_file());
    assert!(dest.join("escape.txt").is_file());
    assert_eq!(
        fs::read(dest.join("vault/notes/note.md")).unwrap(),
        b"# note"
    );
}

/// Lines of older versions record no path: a file's comes from its
/// absolute source, anything else's is its name.
#[test]
fn lines_without_a_path_take_it_from_their_source() {
    let env = Env::new();
    env.write("in/a.txt", b"a\n");
    env.write("in/b.txt", b"b\n");
    ok(env.cmd(["-q", "in"]));
    let mut lines = String::new();
    for (i, mut line) in env.manifest().into_iter().enumerate() {
        let object = line.as_object_mut().unwrap();
        object.remove("path");
        if i == 0 {
            object.insert("source".into(), "/home/me/Photos/2019/old.txt".into());
        } else {
            object.insert("source".into(), "http:phone".into());
            object.insert(
                "origin".into(),
                serde_json::json!({"kind": "http", "token": "phone"}),
            );
        }
        lines.push_str(&format!("{line}\n"));
    }
    fs::write(env.store().join("manifest.jsonl"), lines).unwrap();
    let dest = env.path().join("dest");
    ok(env.cmd(["-q", "export", "--tree"]).arg(&dest));
    assert_eq!(fs::read(dest.join("home/me/Photos/2019/a.txt")).ok(), None);
    assert!(
        dest.join("home/me/Photos/2019/old.txt").is_file(),
        "{:?}",
        files_under(&dest)
    );
    assert!(dest.join("b.txt").is_file(), "{:?}", files_under(&dest));
}
