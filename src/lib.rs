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
pub mod cli;
pub mod commands;
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
pub mod pipeline;
pub mod policy;
pub mod report;
pub mod scan;
pub mod sniff;
pub mod stderr;
pub mod store;
#[cfg(test)]
mod testing;
pub mod thumbnail;
pub mod tokens;
pub mod tools;
pub mod walk;

use std::path::PathBuf;

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
    let outcome = match &cli.command {
        Some(Command::Add(args)) => commands::add::run(global, args),
        None => commands::add::run(global, &cli.add),
        Some(Command::Mms(args)) => commands::mms::run(global, args),
        Some(Command::Ls(filter)) => tools::ls::run(global, filter),
        Some(Command::Cat { hash }) => tools::cat::run(global, hash),
        Some(Command::Export(args)) => tools::export::run(global, args),
        Some(Command::Verify { quick }) => tools::verify::run(global, *quick),
        Some(Command::Gc {
            orphans,
            dry_run,
            older_than,
        }) => tools::gc::run(global, *orphans, *dry_run, *older_than),
        Some(Command::Stats) => tools::stats::run(global),
        Some(Command::Copy { src, dest }) => tools::copy::run(global, src, dest),
        Some(Command::Serve(args)) => commands::serve::run(global, args),
        Some(Command::Token(command)) => commands::token::run(global, command),
    };
    match outcome {
        // `ingest ls | head`: the reader has what it wanted.
        Err(err) if tools::is_broken_pipe(&err) => Ok(Exit::Success),
        other => other,
    }
}

/// The store's location: `--store`, else `$INGEST_STORE` (clap reads both),
/// else the XDG data directory.
pub fn store_location(global: &GlobalArgs) -> Result<PathBuf> {
    global
        .store
        .clone()
        .or_else(store::default_location)
        .context("no store location: pass --store DIR or set INGEST_STORE (HOME is not set)")
}

/// Where the store is: a local directory, or an S3 prefix.
#[derive(Debug, Clone)]
pub enum Location {
    Local(PathBuf),
    S3(store::S3Location),
}

impl Location {
    /// `s3://BUCKET/PREFIX` is an S3 store; anything else a directory.
    pub fn of(place: &std::path::Path) -> Result<Location> {
        match place.to_str().and_then(store::S3Location::parse) {
            Some(s3) => Ok(Location::S3(s3?)),
            None => Ok(Location::Local(place.to_path_buf())),
        }
    }
}

/// How long to wait for another run's lock on the store (`--wait-lock`).
pub fn wait_lock(global: &GlobalArgs) -> Result<std::time::Duration> {
    policy::seconds(global.wait_lock).context("--wait-lock")
}
