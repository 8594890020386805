//! Each command's help lists the options that command takes, and no other;
//! a mistyped command is told apart from a file.

use std::collections::BTreeSet;

use crate::util::*;

/// The long options of `ingest COMMAND --help`, as listed (each on a line
/// of its own, indented by two to six spaces).
fn listed(command: &str) -> BTreeSet<String> {
    let out = ok(bare_cmd().args(command.split(' ')).arg("--help"));
    stdout_of(&out)
        .lines()
        .filter(|line| {
            let indent = line.len() - line.trim_start().len();
            (2..=6).contains(&indent) && line.trim_start().starts_with('-')
        })
        .filter_map(|line| {
            line.split_whitespace()
                .find(|word| word.starts_with("--"))
                .map(|word| word.trim_end_matches([',', '.']).to_owned())
        })
        .collect()
}

const POLICY: &[&str] = &[
    "--max-size",
    "--allow",
    "--deny",
    "--clamd",
    "--scan-fail-open",
    "--scan-timeout",
];

#[test]
fn each_commands_help_lists_only_what_it_takes() {
    let expected: &[(&str, &[&str])] = &[
        (
            "add",
            &[
                "--name",
                "--follow",
                "--exclude",
                "--max-depth",
                "--no-cache",
                "--dry-run",
                "--sync",
                "--content-type",
                "--sha256",
                "--spool",
                "--s3-addressing",
                "--json",
                "--quiet",
                "--progress",
                "--wait-lock",
            ],
        ),
        (
            "mms",
            &[
                "--text",
                "--dry-run",
                "--sync",
                "--spool",
                "--s3-addressing",
                "--json",
                "--quiet",
                "--progress",
                "--wait-lock",
            ],
        ),
        (
            "ls",
            &[
                "--mime",
                "--name",
                "--since",
                "--until",
                "--source",
                "--path",
                "--s3-addressing",
                "--json",
                "--quiet",
            ],
        ),
        ("cat", &["--s3-addressing"]),
        (
            "rm",
            &[
                "--mime",
                "--name",
                "--since",
                "--until",
                "--source",
                "--path",
                "--dry-run",
                "--block",
                "--id",
                "--older-than",
                "--trash",
                "--purge",
                "--s3-addressing",
                "--json",
                "--quiet",
                "--wait-lock",
            ],
        ),
        (
            "export",
            &[
                "--mime",
                "--name",
                "--since",
                "--until",
                "--source",
                "--path",
                "--link",
                "--overwrite",
                "--tree",
                "--as-of",
                "--all-versions",
                "--s3-addressing",
                "--json",
                "--quiet",
            ],
        ),
        (
            "verify",
            &["--quick", "--s3-addressing", "--json", "--progress"],
        ),
        (
            "gc",
            &[
                "--orphans",
                "--dry-run",
                "--older-than",
                "--trash-days",
                "--spool",
                "--s3-addressing",
                "--quiet",
                "--wait-lock",
            ],
        ),
        ("stats", &["--s3-addressing", "--json"]),
        (
            "copy",
            &[
                "--spool",
                "--s3-addressing",
                "--quiet",
                "--progress",
                "--wait-lock",
            ],
        ),
        (
            "serve",
            &[
                "--listen",
                "--max-uploads",
                "--max-uploads-per-token",
                "--max-connections",
                "--grace",
                "--header-timeout",
                "--body-timeout",
                "--idle-timeout",
                "--send-timeout",
                "--max-partial",
                "--partial-expiry",
                "--cors-origin",
                "--verbose",
                "--spool",
                "--s3-addressing",
                "--json",
                "--quiet",
                "--wait-lock",
            ],
        ),
        (
            "token",
            &["--s3-addressing", "--json", "--quiet", "--wait-lock"],
        ),
        (
            "token add",
            &[
                "--scope",
                "--read-only",
                "--s3-addressing",
                "--json",
                "--quiet",
                "--wait-lock",
            ],
        ),
        (
            "trash empty",
            &[
                "--older-than",
                "--s3-addressing",
                "--json",
                "--quiet",
                "--wait-lock",
            ],
        ),
        (
            "trash restore",
            &[
                "--all",
                "--s3-addressing",
                "--json",
                "--quiet",
                "--wait-lock",
            ],
        ),
        ("block add", &["--from", "--s3-addressing", "--quiet"]),
        ("uploads ls", &["--spool", "--s3-addressing", "--json"]),
    ];
    for (command, own) in expected {
        let mut want: BTreeSet<String> = own.iter().map(|o| o.to_string()).collect();
        want.extend(["--store", "--help"].map(String::from));
        if ["add", "mms", "serve"].contains(command) {
            want.extend(POLICY.iter().map(|o| o.to_string()));
        }
        assert_eq!(listed(command), want, "ingest {command} --help");
    }
    // Each command's words for --json, not add's.
    let ls = stdout_of(&ok(bare_cmd().args(["ls", "--help"])));
    assert!(!ls.contains("sha256sum lines"), "{ls}");
    let serve = stdout_of(&ok(bare_cmd().args(["serve", "--help"])));
    assert!(!serve.contains("every input was stored"), "{serve}");
    assert!(serve.contains("stopped on SIGTERM"), "{serve}");
}

#[test]
fn a_mistyped_command_is_a_usage_error_that_names_the_command() {
    let env = Env::new();
    for (typed, meant) in [("lss", "ls"), ("verfy", "verify"), ("exprot", "export")] {
        let out = env.cmd([typed]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
        assert_says(&stderr_of(&out), &format!("did you mean `ingest {meant}`"));
    }
    // A file of that name is stored as asked.
    env.write("lss", b"a file named lss\n");
    ok(env.cmd(["-q", "lss"]));
    assert_eq!(env.manifest().len(), 1);
}
