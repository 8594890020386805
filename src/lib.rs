//! `ingest`: file attachments and backup extracts into a content-addressed
//! store, reading each input once in fixed-size chunks.
//!
//! The modules are the concepts of the job: the [`store`] and its
//! [`manifest`], the one-pass [`pipeline`], [`sniff`]ing, the [`cli`] and its
//! [`report`]. `main.rs` only parses the command line and calls [`run`].

/// Writes one escaped line to stderr, `ingest: ` first; see [`stderr`].
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::stderr::line(format_args!($($arg)*))
    };
}

pub mod admission;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod deletions;
pub mod engine;
pub mod events;
pub mod exit;
pub mod failure;
pub mod hashing;
pub mod in_order;
pub mod input;
pub mod interrupt;
pub mod json_file;
pub mod jsonl;
pub mod manifest;
pub mod media_type;
pub mod mms;
pub mod names;
pub mod object_id;
pub mod partial;
pub mod pipeline;
pub mod policy;
pub mod removal;
pub mod report;
pub mod scan;
pub mod sniff;
pub mod stderr;
pub mod stdout;
pub mod store;
#[cfg(test)]
mod testing;
pub mod thumbnail;
pub mod tokens;
pub mod tools;
pub mod trash;
pub mod walk;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::exit::Exit;

/// Runs a parsed command line to its end, and says how it ended.
pub fn run(cli: Cli) -> Exit {
    // A server stops on its own terms: it lets uploads in flight finish.
    let serving = matches!(cli.command, Some(Command::Serve(_)));
    let outcome = match serving {
        true => Ok(()),
        false => interrupt::install().context("installing the signal handler"),
    }
    .and_then(|()| dispatch(cli));
    match outcome {
        Ok(exit) => exit,
        Err(err) => {
            say!("{err:#}");
            Exit::Fatal
        }
    }
}

fn dispatch(cli: Cli) -> Result<Exit> {
    let global = &cli.global;
    let opener = &opener(global)?;
    let outcome = match &cli.command {
        Some(Command::Add(args)) => commands::add::run(global, opener, args),
        None => match commands::add::mistyped_command(&cli.add.paths, &command_names()) {
            Some(usage) => {
                say!("{usage}");
                Ok(Exit::Usage)
            }
            None => commands::add::run(global, opener, &cli.add),
        },
        Some(Command::Mms(args)) => commands::mms::run(global, opener, args),
        Some(Command::Ls(filter)) => tools::ls::run(global, opener, filter),
        Some(Command::Cat { hash }) => tools::cat::run(opener, hash),
        Some(Command::Export(args)) => tools::export::run(global, opener, args),
        Some(Command::Verify { quick }) => tools::verify::run(global, opener, *quick),
        Some(Command::Gc {
            orphans,
            dry_run,
            older_than,
            trash_days,
        }) => tools::gc::run(
            global,
            opener,
            tools::gc::Asked {
                orphans: *orphans,
                dry_run: *dry_run,
                older_than: *older_than,
                trash_days: *trash_days,
            },
        ),
        Some(Command::Stats) => tools::stats::run(global, opener),
        Some(Command::Rm(args)) => tools::rm::run(global, opener, args),
        Some(Command::Copy { src, dest }) => tools::copy::run(global, opener, src, dest),
        Some(Command::Serve(args)) => commands::serve::run(global, opener, args),
        Some(Command::Token(command)) => commands::token::run(global, opener, command),
        Some(Command::Block(command)) => tools::block::run(global, opener, command),
        Some(Command::Trash(command)) => tools::trash::run(global, opener, command),
        Some(Command::Uploads(command)) => tools::uploads::run(global, opener, command),
    };
    match outcome {
        // `ingest ls | head`: the reader has what it wanted.
        Err(err) if tools::is_broken_pipe(&err) => Ok(Exit::Success),
        other => other,
    }
}

/// The subcommands' names, for telling a mistyped one from a path.
fn command_names() -> Vec<String> {
    cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
}

/// The store's opener, from the options every command takes: parsed once.
fn opener(global: &GlobalArgs) -> Result<store::Opener> {
    Ok(store::Opener {
        store: global.store.clone(),
        wait_lock: policy::seconds(global.wait_lock).context("--wait-lock")?,
        s3_addressing: global.s3_addressing.clone(),
        spool: global.spool.clone(),
    })
}
