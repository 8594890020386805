//! The README and docs/: every relative link resolves, and the README stays
//! an entry point, not a manual.

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The Markdown files a reader is pointed to.
fn documents() -> Vec<PathBuf> {
    let mut found = vec![Path::new(ROOT).join("README.md")];
    for entry in fs::read_dir(Path::new(ROOT).join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
    found
}

/// Every `](target)` of a Markdown text, outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            found.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn every_link_in_the_readme_and_docs_resolves() {
    let mut checked = 0;
    for document in documents() {
        let text = fs::read_to_string(&document).unwrap();
        let dir = document.parent().unwrap();
        for link in links(&text) {
            if link.starts_with("http://") || link.starts_with("https://") || link.starts_with('#')
            {
                continue;
            }
            let file = link.split('#').next().unwrap();
            assert!(
                dir.join(file).exists(),
                "{}: the link {link:?} leads nowhere",
                document.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "only {checked} links found: is the finder broken?"
    );
}

#[test]
fn the_readme_is_an_entry_point() {
    let text = fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let lines = text.lines().count();
    assert!(
        lines <= 260,
        "README.md has {lines} lines: move the detail to docs/"
    );
    // Exactly two set-up commands: install and run, and the tests.
    let setup = text.split("## Set up").nth(1).unwrap();
    let setup = setup.split("\n## ").next().unwrap();
    assert_eq!(setup.matches("```sh").count(), 2, "{setup}");
    assert!(setup.contains("cargo install --locked --path . && ingest README.md"));
    assert!(setup.contains(".ci/setup && cargo test --locked"));
}
