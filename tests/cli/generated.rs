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
        let usage = synopsis(command);
        let man = clap_mangen::Man::new(command.clone().override_usage(usage));
        let mut page = Vec::new();
        man.render(&mut page).unwrap();
        check(&format!("man/{}", man.get_filename()), page);
    }
}

/// A command's synopsis with each option's value (`[--listen ADDR:PORT]`),
/// which clap_mangen leaves out of the ones it makes (`[--listen]`).
fn synopsis(command: &clap::Command) -> String {
    let mut words = vec![format!("ingest {}", command.get_name())];
    let shown = command.get_arguments().filter(|a| !a.is_hide_set());
    let (positionals, options): (Vec<_>, Vec<_>) = shown.partition(|a| a.is_positional());
    for option in options {
        let Some(long) = option.get_long() else {
            continue;
        };
        let flag = match option.get_short() {
            Some(short) => format!("-{short}|--{long}"),
            None => format!("--{long}"),
        };
        let takes_value = option.get_action().takes_values();
        let value = option
            .get_value_names()
            .and_then(|names| names.first())
            .map(|name| name.to_string())
            .unwrap_or_else(|| option.get_id().as_str().to_uppercase());
        words.push(match takes_value {
            true => format!("[{flag} {value}]"),
            false => format!("[{flag}]"),
        });
    }
    for positional in positionals {
        let name = positional
            .get_value_names()
            .and_then(|names| names.first())
            .map(|name| name.to_string())
            .unwrap_or_else(|| positional.get_id().as_str().to_uppercase());
        let many = positional
            .get_num_args()
            .is_some_and(|n| n.max_values() > 1);
        let dots = if many { "..." } else { "" };
        words.push(match positional.is_required_set() {
            true => format!("<{name}>{dots}"),
            false => format!("[{name}]{dots}"),
        });
    }
    if command.has_subcommands() {
        words.push("<COMMAND>".to_owned());
    }
    words.join(" ")
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
