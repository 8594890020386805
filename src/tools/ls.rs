//! `ingest ls`: the manifest's entries, oldest first, as a table or as the
//! JSON lines themselves.

use std::io::{self, BufWriter, Write};

use anyhow::Result;
use indicatif::HumanBytes;

use super::filter::EntryFilter;
use crate::cli::{Filter, GlobalArgs};
use crate::exit::Exit;
use crate::manifest::{Entry, Line};
use crate::stderr::escape;
use crate::store::Opener;

pub fn run(global: &GlobalArgs, opener: &Opener, filter: &Filter) -> Result<Exit> {
    let Some(filter) = EntryFilter::or_usage(filter) else {
        return Ok(Exit::Usage);
    };
    let store = opener.view()?;
    let lines = store.entries()?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut unreadable = 0u64;
    for line in lines {
        match line? {
            Line::Value(entry) if filter.matches(&entry) => show(&mut out, &entry, global.json)?,
            Line::Value(_) | Line::Torn { .. } => {}
            Line::Unreadable { .. } => unreadable += 1,
        }
    }
    out.flush()?;
    if unreadable > 0 && !global.quiet {
        say!("warning: {unreadable} unreadable manifest lines skipped (see ingest verify)");
    }
    Ok(Exit::Success)
}

/// An entry as `ls` shows it: with `--json` its manifest line as stored,
/// its id (what `rm --id` and the server take) put first; else a row of
/// the table.
pub(super) fn show(out: &mut impl Write, entry: &Entry, json: bool) -> io::Result<()> {
    match json {
        true => out.write_all(&with_id(entry)),
        false => super::line(out, &table_row(entry)),
    }
}

/// The entry's line with `"id"` as its first field.
pub(super) fn with_id(entry: &Entry) -> Vec<u8> {
    let line = entry.to_line();
    let mut text = format!("{{\"id\":\"{}\"", crate::trash::entry_id(entry)).into_bytes();
    if line.get(1) != Some(&b'}') {
        text.push(b',');
    }
    text.extend_from_slice(&line[1..]);
    text
}

/// Short hash, size, type, date, path (last, as it may hold spaces; the
/// name for a line that records no path). The
/// type and the name come from inputs (an MMS part's `ct`, a file's name),
/// so their control characters are shown escaped: they cannot forge rows
/// or reach the terminal.
fn table_row(entry: &Entry) -> String {
    let hex = entry.sha256.to_string();
    format!(
        "{}  {:>10}  {:<24}  {}  {}",
        &hex[..12],
        HumanBytes(entry.size).to_string(),
        escape(&entry.mime),
        escape(&entry.ingested_at),
        escape(&entry.path_bytes().to_string_lossy())
    )
}
