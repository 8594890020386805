//! `ingest ls`: the manifest's entries, oldest first, as a table or as the
//! JSON lines themselves.

use std::io::{self, BufWriter, Write};

use anyhow::Result;
use indicatif::HumanBytes;

use super::filter::EntryFilter;
use crate::cli::{Filter, GlobalArgs};
use crate::exit::Exit;
use crate::manifest::{Entry, Line};

pub fn run(global: &GlobalArgs, filter: &Filter) -> Result<Exit> {
    let filter = EntryFilter::new(filter)?;
    let store = super::open_store(global)?;
    let lines = store.entries()?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut unreadable = 0u64;
    for line in lines {
        match line? {
            Line::Value(entry) if filter.matches(&entry) => {
                if global.json {
                    out.write_all(&entry.to_line())?;
                } else {
                    super::line(&mut out, &table_row(&entry))?;
                }
            }
            Line::Value(_) | Line::Torn { .. } => {}
            Line::Unreadable { .. } => unreadable += 1,
        }
    }
    out.flush()?;
    if unreadable > 0 && !global.quiet {
        eprintln!(
            "ingest: warning: {unreadable} unreadable manifest lines skipped (see ingest verify)"
        );
    }
    Ok(Exit::Success)
}

/// Short hash, size, type, date, name (last, as it may hold spaces; control
/// characters shown escaped so a name cannot forge table rows).
fn table_row(entry: &Entry) -> String {
    let hex = entry.sha256.to_string();
    let name: String = if entry.name.chars().any(char::is_control) {
        entry.name.escape_debug().collect()
    } else {
        entry.name.clone()
    };
    format!(
        "{}  {:>10}  {:<24}  {}  {}",
        &hex[..12],
        HumanBytes(entry.size).to_string(),
        entry.mime,
        entry.ingested_at,
        name
    )
}
