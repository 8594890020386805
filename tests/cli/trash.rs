//! The trash (`rm --trash`, `ingest trash`, gc's expiry), `rm --purge`,
//! `--id` and `--older-than`, and removal through the server: scopes,
//! `DELETE /v1/entries/ID`, the trash's listing and restoring.

use std::fs;

use serde_json::Value;

use crate::harness::served::{Served, curl_status, token_add};
use crate::util::*;

/// Three files, two of them the same bytes under two names.
fn stocked() -> Env {
    stocked_with("twin.txt")
}

fn names(env: &Env) -> Vec<String> {
    entry_names(env)
}

/// `ls --json`: each line with its id.
fn listed(env: &Env) -> Vec<Value> {
    json_lines(&ok(env.cmd(["--json", "ls"])))
}

fn id_of(env: &Env, name: &str) -> String {
    listed(env)
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no entry named {name}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn trashed(env: &Env) -> Vec<Value> {
    json_lines(&ok(env.cmd(["--json", "trash", "ls"])))
}

/// Backdates every trash record by `days` (its name says when it was
/// made), as if the removal had been that long ago.
fn age_trash(env: &Env, days: i64) {
    for file in fs::read_dir(env.store().join("trash")).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let (stamp, rest) = name.split_once('-').unwrap();
        let at = jiff::fmt::strtime::parse("%Y%m%dT%H%M%SZ", stamp)
            .unwrap()
            .to_datetime()
            .unwrap();
        let earlier = at.checked_sub(jiff::Span::new().days(days)).unwrap();
        let renamed = format!("{}-{rest}", earlier.strftime("%Y%m%dT%H%M%SZ"));
        fs::rename(&path, path.with_file_name(renamed)).unwrap();
    }
}

#[test]
fn ls_json_gives_each_entry_its_id_and_rm_takes_it() {
    let env = stocked();
    let lines = listed(&env);
    let manifest = env.manifest();
    assert_eq!(lines.len(), manifest.len());
    for (shown, kept) in lines.iter().zip(&manifest) {
        let id = shown["id"].as_str().unwrap();
        assert_eq!(id.len(), 32, "{shown}");
        let mut without = shown.clone();
        without.as_object_mut().unwrap().remove("id");
        assert_eq!(&without, kept);
    }
    let id = id_of(&env, "twin.txt");
    let out = ok(env.cmd(["rm", "--id", &id]));
    assert_says(&stderr_of(&out), "removed 1 entry; deleted 0 objects");
    assert_eq!(names(&env), ["alone.bin", "keep.txt"]);
    // Not an id: a usage error, nothing removed.
    let out = env.cmd(["rm", "--id", "12345"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert_says(&stderr_of(&out), "not an entry id");
    assert_eq!(names(&env), ["alone.bin", "keep.txt"]);
}

#[test]
fn trashed_entries_leave_the_listing_keep_their_bytes_and_come_back() {
    let env = stocked();
    let alone = sha256_hex(&noise(5000, 3));
    let out = ok(env.cmd(["rm", "--trash", "--name", "alone.bin"]));
    assert_says(&stderr_of(&out), "moved 1 entry to the trash");
    assert_eq!(names(&env), ["keep.txt", "twin.txt"]);
    assert!(env.object(&alone).exists());
    let trash = trashed(&env);
    assert_eq!(trash.len(), 1);
    assert_eq!(trash[0]["name"], "alone.bin");
    assert!(trash[0]["trashed"].as_str().unwrap().ends_with('Z'));
    // Nothing names the object but the trash: gc keeps it, verify does not
    // call it an orphan.
    let out = ok(env.cmd(["gc", "--orphans", "--older-than", "0s"]));
    assert_says(&stderr_of(&out), "gc: 0 files");
    assert!(env.object(&alone).exists());
    // A run over the folder while it is trashed stores the file again (it
    // was not blocked); restoring then adds nothing twice.
    let id = trash[0]["id"].as_str().unwrap().to_owned();
    ok(env.cmd(["-q", "in"]));
    assert_eq!(names(&env), ["alone.bin", "keep.txt", "twin.txt"]);
    let out = ok(env.cmd(["trash", "restore", &id]));
    assert_says(&stderr_of(&out), "restored 1 entry");
    assert_eq!(names(&env), ["alone.bin", "keep.txt", "twin.txt"]);
    assert!(trashed(&env).is_empty());
    assert!(!env.store().join("trash").read_dir().unwrap().any(|_| true));
    // Restoring what is not there: a usage error without ids.
    let out = env.cmd(["trash", "restore"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    env.assert_store_valid();
}

#[test]
fn gc_empties_the_trash_after_its_days_and_only_what_nothing_else_names() {
    let env = stocked();
    let shared = sha256_hex(b"shared bytes\n");
    let alone = sha256_hex(&noise(5000, 3));
    ok(env.cmd(["-q", "rm", "--trash", "--name", "alone.bin"]));
    ok(env.cmd(["-q", "rm", "--trash", "--name", "twin.txt"]));
    // Not yet: the default 30 days have not passed.
    let out = ok(env.cmd(["gc", "--orphans", "--older-than", "0s"]));
    assert_says(&stderr_of(&out), "gc: 0 files");
    assert_eq!(trashed(&env).len(), 2);
    age_trash(&env, 31);
    let out = ok(env.cmd(["gc", "--dry-run"]));
    assert!(
        stdout_of(&out).contains("would empty 1 entry"),
        "{}",
        stdout_of(&out)
    );
    assert_eq!(trashed(&env).len(), 2);
    let out = ok(env.cmd(["gc"]));
    assert!(
        stdout_of(&out).contains("emptied 1 entry"),
        "{}",
        stdout_of(&out)
    );
    assert!(trashed(&env).is_empty());
    // alone.bin's bytes went with it; twin.txt's stay, keep.txt names them.
    assert!(!env.object(&alone).exists());
    assert!(env.object(&shared).exists());
    assert_eq!(names(&env), ["keep.txt"]);
    // The store's trash_days, and gc's flag over it.
    ok(env.cmd(["-q", "rm", "--trash", "--name", "keep.txt"]));
    age_trash(&env, 3);
    fs::write(env.store().join("config.json"), r#"{"trash_days": 5}"#).unwrap();
    ok(env.cmd(["-q", "gc"]));
    assert_eq!(trashed(&env).len(), 1);
    ok(env.cmd(["-q", "gc", "--trash-days", "2"]));
    assert!(trashed(&env).is_empty());
    assert!(!env.object(&shared).exists());
    let out = ok(env.cmd(["--json", "verify"]));
    assert_eq!(json_summary(&out)["problems"], 0);
}

#[test]
fn trash_empty_takes_ids_or_an_age_or_everything() {
    let env = stocked();
    let alone = sha256_hex(&noise(5000, 3));
    ok(env.cmd(["-q", "rm", "--trash", "--name", "alone.bin"]));
    ok(env.cmd(["-q", "rm", "--trash", "--name", "twin.txt"]));
    let twin = trashed(&env)
        .into_iter()
        .find(|e| e["name"] == "twin.txt")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(env.cmd(["-q", "trash", "empty", "--older-than", "1d"]));
    assert_eq!(trashed(&env).len(), 2);
    let out = ok(env.cmd(["trash", "empty", &twin]));
    assert_says(&stderr_of(&out), "emptied 1 entry; deleted 0 objects");
    assert_eq!(trashed(&env).len(), 1);
    let out = ok(env.cmd(["trash", "empty"]));
    assert_says(&stderr_of(&out), "emptied 1 entry; deleted 1 object");
    assert!(!env.object(&alone).exists());
    assert_eq!(names(&env), ["keep.txt"]);
}

#[test]
fn purge_removes_the_object_and_every_entry_naming_it_the_trash_too() {
    let env = stocked();
    let shared = sha256_hex(b"shared bytes\n");
    ok(env.cmd(["-q", "rm", "--trash", "--name", "twin.txt"]));
    // One name picks the object; every entry naming it goes, the trashed
    // one too, and the bytes at once.
    let out = ok(env.cmd(["rm", "--purge", "--name", "keep.txt"]));
    assert_says(
        &stderr_of(&out),
        "removed 1 entry and 1 entry from the trash; deleted 1 object",
    );
    assert!(!env.object(&shared).exists());
    assert_eq!(names(&env), ["alone.bin"]);
    assert!(trashed(&env).is_empty());
    // By hash, with --block: nothing left, and the bytes refused.
    let alone = sha256_hex(&noise(5000, 3));
    ok(env.cmd(["-q", "rm", "--purge", "--block", &alone]));
    assert!(env.manifest().is_empty());
    let out = env.cmd(["--json", "in/alone.bin"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
}

#[test]
fn rm_older_than_expires_a_servers_uploads_and_keeps_the_rest() {
    let env = stocked();
    // Two uploads through a server, one of them backdated.
    let server = Served::start(&env, &[]);
    for name in ["old.txt", "new.txt"] {
        let file = env.write(name, format!("upload {name}\n").as_bytes());
        let url = server.url(&format!("/v1/files/{name}"));
        assert_eq!(server.json(&["-T", file.to_str().unwrap(), &url]).0, 201);
    }
    assert!(server.stop());
    let text = fs::read_to_string(env.store().join("manifest.jsonl")).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for line in &mut lines {
        if line["name"] == "old.txt" || line["name"] == "alone.bin" {
            line["ingested_at"] = "2023-01-01T00:00:00Z".into();
        }
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    fs::write(env.store().join("manifest.jsonl"), text).unwrap();
    let out = ok(env.cmd(["rm", "--older-than", "2y", "--source", "http:*"]));
    assert_says(&stderr_of(&out), "removed 1 entry");
    assert_eq!(
        names(&env),
        ["alone.bin", "keep.txt", "new.txt", "twin.txt"]
    );
    let out = env.cmd(["rm", "--older-than", "soon"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

/// Scopes: a read token and an upload token see 403 on removal and get no
/// trash; a delete token moves an entry to the trash (gone from the pages
/// at once, its object kept), lists the trash and restores it.
#[test]
fn the_server_moves_entries_to_the_trash_for_delete_tokens_only() {
    let env = stocked();
    let server = Served::start(&env, &[]);
    let reader = token_add(&env, "reader", true);
    let deleter = {
        let out = ok(env.cmd(["token", "add", "cleaner", "--scope", "delete"]));
        stdout_of(&out).trim().to_owned()
    };
    let out = ok(env.cmd(["--json", "token", "ls"]));
    let scopes: Vec<String> = json_lines(&out)
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                t["name"].as_str().unwrap(),
                t["scope"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        scopes,
        ["tester=read-write", "reader=read", "cleaner=delete"]
    );
    let as_token = |token: &str, args: &[&str]| -> (u16, Value) {
        let auth = format!("Authorization: Bearer {token}");
        let (status, body) = curl_status(&[&["-H", auth.as_str()], args].concat());
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    };
    let (_, page) = server.json(&[&server.url("/v1/entries")]);
    let entry = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "alone.bin")
        .unwrap()
        .clone();
    let id = entry["id"].as_str().unwrap().to_owned();
    assert_eq!(id, id_of(&env, "alone.bin"));
    let entry_url = server.url(&format!("/v1/entries/{id}"));
    for token in [&reader, &server.token] {
        let (status, body) = as_token(token, &["-X", "DELETE", &entry_url]);
        assert_eq!(status, 403, "{body}");
        assert_eq!(as_token(token, &[&server.url("/v1/trash")]).0, 403);
    }
    let (_, limits) = as_token(&deleter, &[&server.url("/v1/limits")]);
    assert_eq!(limits["token"]["scope"], "delete");
    let (status, body) = as_token(&deleter, &["-X", "DELETE", &entry_url]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["trashed"][0]["name"], "alone.bin");
    let (_, page) = server.json(&[&server.url("/v1/entries")]);
    assert!(
        !page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id.as_str()),
        "{page}"
    );
    // Its object stays while it is in the trash.
    let object = server.url(&format!(
        "/v1/objects/{}",
        entry["sha256"].as_str().unwrap()
    ));
    assert_eq!(server.curl(&["-o", "/dev/null", &object]).0, 200);
    assert_eq!(as_token(&deleter, &["-X", "DELETE", &entry_url]).0, 404);
    let bad = server.url("/v1/entries/not-an-id");
    assert_eq!(as_token(&deleter, &["-X", "DELETE", &bad]).0, 400);
    let (status, trash) = as_token(&deleter, &[&server.url("/v1/trash")]);
    assert_eq!(status, 200);
    assert_eq!(trash["entries"][0]["id"], id.as_str());
    assert!(trash["entries"][0]["trashed"].is_string());
    let restore = server.url(&format!("/v1/trash/{id}/restore"));
    assert_eq!(as_token(&server.token, &["-X", "POST", &restore]).0, 403);
    let (status, body) = as_token(&deleter, &["-X", "POST", &restore]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(as_token(&deleter, &["-X", "POST", &restore]).0, 404);
    let (_, page) = server.json(&[&server.url("/v1/entries")]);
    assert!(
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id.as_str())
    );
    // An upload after all this is recorded (the server's writer let go
    // of the store while the removal held it, and took it back).
    let file = env.write("later.txt", b"later\n");
    let url = server.url("/v1/files/later.txt");
    assert_eq!(server.json(&["-T", file.to_str().unwrap(), &url]).0, 201);
    assert!(server.stop());
    assert_eq!(
        names(&env),
        ["alone.bin", "keep.txt", "later.txt", "twin.txt"]
    );
    env.assert_store_valid();
}
