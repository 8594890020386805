//! The man page and the completions are generated from the clap definition
//! and committed; this fails when they drift. `UPDATE_GENERATED=1 cargo test
//! generated` rewrites them.

use std::fs;
use std::path::Path;

use clap_complete::Shell;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn check(relative: &str, generated: Vec<u8>) {
    let path = Path::new(ROOT).join(relative);
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &generated).unwrap();
    }
    let committed = fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{relative} is out of date: run `UPDATE_GENERATED=1 cargo test generated` and commit it"
    );
}

#[test]
fn man_page_is_up_to_date() {
    let mut page = Vec::new();
    clap_mangen::Man::new(ingest::cli::command())
        .render(&mut page)
        .unwrap();
    check("man/ingest.1", page);
}

/// One page per command (`man ingest-serve`), as the main page's list of
/// commands promises, with each command's whole description and options.
#[test]
fn command_man_pages_are_up_to_date() {
    let mut cli = ingest::cli::command();
    cli.build();
    let commands = cli.get_subcommands().filter(|c| c.get_name() != "help");
    for command in commands {
        let man = clap_mangen::Man::new(command.clone());
        let mut page = Vec::new();
        man.render(&mut page).unwrap();
        check(&format!("man/{}", man.get_filename()), page);
    }
}

#[test]
fn completions_are_up_to_date() {
    for (shell, file) in [
        (Shell::Bash, "ingest.bash"),
        (Shell::Zsh, "_ingest"),
        (Shell::Fish, "ingest.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut ingest::cli::command(), "ingest", &mut script);
        check(&format!("completions/{file}"), script);
    }
}
