//! `ingest trash ls|restore|empty`: what removals to the trash keep (see
//! [`crate::trash`]).

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};

use anyhow::Result;
use indicatif::HumanBytes;

use crate::cli::{GlobalArgs, TrashCommand};
use crate::exit::Exit;
use crate::manifest::{Entry, Identity};
use crate::stderr::{count, escape};
use crate::store::Opener;
use crate::trash::{self, TrashRecord, entry_id};

pub fn run(global: &GlobalArgs, opener: &Opener, command: &TrashCommand) -> Result<Exit> {
    let store = opener.view()?;
    let mut out = BufWriter::new(io::stdout().lock());
    let chosen = |ids: &[String]| -> Option<HashSet<Identity>> {
        match ids.iter().map(|id| trash::parse_entry_id(id)).collect() {
            Ok(ids) => Some(ids),
            Err(usage) => {
                say!("trash: {usage:#}");
                None
            }
        }
    };
    match command {
        TrashCommand::Ls => {
            for record in store.trash()? {
                for entry in &record.entries {
                    show(&mut out, &record, entry, global.json)?;
                }
            }
        }
        TrashCommand::Restore { ids, all } => {
            let Some(ids) = chosen(ids) else {
                return Ok(Exit::Usage);
            };
            if ids.is_empty() && !all {
                say!(
                    "trash restore: say which entries (their ids, from ingest trash ls), or --all"
                );
                return Ok(Exit::Usage);
            }
            let _excluded = store.exclude_writers(opener.wait_lock)?;
            let outcome = trash::restore(store.as_ref(), &|e| *all || ids.contains(&e.identity()))?;
            for entry in &outcome.missing {
                say!(
                    "trash restore: {} stays in the trash: its object {} is gone",
                    escape(&entry.name),
                    entry.sha256
                );
            }
            if !global.quiet {
                let entries = count(outcome.entries.len() as u64, "entry", "entries");
                say!("trash: restored {entries}");
            }
            if !outcome.missing.is_empty() {
                return Ok(Exit::Fatal);
            }
        }
        TrashCommand::Empty { ids, older_than } => {
            let Some(ids) = chosen(ids) else {
                return Ok(Exit::Usage);
            };
            let bound = older_than.map(super::filter::ago);
            let old_enough = |record: &TrashRecord| bound.is_none_or(|bound| record.at <= bound);
            let _excluded = store.exclude_writers(opener.wait_lock)?;
            let outcome = trash::empty(store.as_ref(), &|record, entry| {
                old_enough(record) && (ids.is_empty() || ids.contains(&entry.identity()))
            })?;
            if !global.quiet {
                let freed: u64 = outcome.deleted.iter().map(|(_, size)| size).sum();
                say!(
                    "trash: emptied {}; deleted {} ({})",
                    count(outcome.entries.len() as u64, "entry", "entries"),
                    count(outcome.deleted.len() as u64, "object", "objects"),
                    HumanBytes(freed)
                );
            }
        }
    }
    out.flush()?;
    Ok(Exit::Success)
}

/// A trashed entry: with `--json` its line with its id and when it was
/// trashed put first; else a row of when, id, size and name.
fn show(out: &mut impl Write, record: &TrashRecord, entry: &Entry, json: bool) -> io::Result<()> {
    let row = match json {
        true => {
            let line = super::ls::with_id(entry);
            let mut text = format!("{{\"trashed\":\"{:.0}\",", record.at).into_bytes();
            text.extend_from_slice(&line[1..]);
            return out.write_all(&text);
        }
        false => format!(
            "{:.0}  {}  {:>10}  {}",
            record.at,
            entry_id(entry),
            HumanBytes(entry.size).to_string(),
            escape(&entry.name)
        ),
    };
    super::line(out, &row)
}
