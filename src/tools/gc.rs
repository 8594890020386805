//! `ingest gc`: remove what crashed runs left behind.
//!
//! A temp file is removed only when no running ingest holds its lock and it
//! is over an hour old. Orphan objects (with `--orphans`) follow the store's
//! removal rule: nothing is removed that a manifest line, or a run in
//! progress, may name. So gc first waits until no writer runs and keeps
//! any from starting (the store's writers lock), reads every line, counts
//! a torn last line as naming whatever it may name, and only then removes
//! what no line names and is over an hour old. On S3, a multipart upload
//! never completed is aborted once it is a day old: it may be another
//! machine's, still under way.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::HumanBytes;

use crate::cli::GlobalArgs;
use crate::exit::Exit;
use crate::manifest::{Line, torn_entry};
use crate::object_id::ObjectId;
use crate::store::{Opener, Paired, PairedObjects, StoreView};
use crate::trash;

const MIN_AGE: Duration = Duration::from_secs(3600);
const UPLOAD_MIN_AGE: Duration = Duration::from_secs(24 * 3600);
/// A resumable upload's partial untouched this long is given up (the
/// server's default --partial-expiry).
const PARTIAL_MIN_AGE: Duration = Duration::from_secs(24 * 3600);

/// What `gc` was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    pub orphans: bool,
    pub dry_run: bool,
    /// Replaces both ages.
    pub older_than: Option<Duration>,
    /// Replaces the store's `trash_days`.
    pub trash_days: Option<u64>,
}

pub fn run(global: &GlobalArgs, opener: &Opener, asked: Asked) -> Result<Exit> {
    let Asked {
        orphans,
        dry_run,
        older_than,
        trash_days,
    } = asked;
    let store = opener.view()?;
    let trash_days = match trash_days {
        Some(days) => days,
        None => store
            .store_config()?
            .trash_days
            .unwrap_or(trash::DEFAULT_DAYS),
    };
    let now = jiff::Timestamp::now();
    let expired = store.trash()?.iter().any(|r| r.expired(trash_days, now));
    // Taken before anything is read, and held to the end.
    let _no_writers = match (orphans || expired) && !dry_run {
        true => Some(store.exclude_writers(opener.wait_lock)?),
        false => None,
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let quiet = global.quiet;
    // Read once writers are kept out: no removal can add a record now.
    let mut records = store.trash()?;
    for record in records.iter().filter(|r| r.expired(trash_days, now)) {
        let entries = crate::stderr::count(record.entries.len() as u64, "entry", "entries");
        let verb = if dry_run { "would empty" } else { "emptied" };
        if !quiet {
            let line = format!("{verb} {entries} trashed {:.0}", record.at);
            super::line(&mut out, &line)?;
        }
    }
    let trashed_objects = match expired && !dry_run {
        true => {
            let emptied =
                trash::empty(store.as_ref(), &|record, _| record.expired(trash_days, now))?;
            records.retain(|r| !r.expired(trash_days, now));
            emptied.deleted
        }
        false => Vec::new(),
    };
    let (mut count, mut freed) = (0u64, 0u64);
    let mut removed = |shown: &str, size: u64, what: &str| -> Result<()> {
        count += 1;
        freed += size;
        let verb = if dry_run { "would remove" } else { "removed" };
        if !quiet {
            let shown = crate::stderr::escape(shown);
            super::line(
                &mut out,
                &format!("{verb} {what} {shown} ({})", HumanBytes(size)),
            )?;
        }
        Ok(())
    };
    let min_age = older_than.unwrap_or(MIN_AGE);
    let upload_min_age = older_than.unwrap_or(UPLOAD_MIN_AGE);
    let aged = |age: Option<Duration>, min: Duration| age.is_some_and(|age| age >= min);
    for leftover in store.leftovers()? {
        if !leftover.in_use && aged(leftover.age, min_age) {
            if !dry_run && !store.remove_leftover(&leftover)? {
                continue; // a writer holds it now
            }
            removed(&leftover.shown, leftover.size, "temp file")?;
        }
    }
    for (id, size) in trashed_objects {
        removed(&store.object_name(&id), size, "trashed object")?;
    }
    if orphans {
        // An object the trash keeps is named, as by an entry.
        let held = trash::held_objects(&records);
        let torn = torn_names(store.as_ref())?;
        for step in PairedObjects::of(store.as_ref())? {
            let step = step.context("not removing orphans")?;
            let Paired::Listed(object, None) = step else {
                continue;
            };
            let Some(id) = object.id else { continue };
            if !torn.names(&id) && !held.contains(&id) && aged(object.age, min_age) {
                if !dry_run {
                    store.remove_object(&object)?;
                }
                removed(&object.shown, object.size, "orphan object")?;
            }
        }
    }
    // Resumable uploads untouched for a day (or --older-than): given up.
    let partials = store.partials();
    for partial in partials.list()? {
        if partial.idle >= older_than.unwrap_or(PARTIAL_MIN_AGE) {
            if !dry_run {
                partials.remove(&partial.id)?;
            }
            let shown = format!("{} ({})", partial.id, partial.info.name);
            removed(&shown, partial.bytes, "unfinished upload")?;
        }
    }
    let abort_verb = if dry_run { "would abort" } else { "aborted" };
    let mut aborted = 0u64;
    for upload in store.unfinished_uploads()? {
        let begun = upload.initiated;
        let age =
            begun.and_then(|t| Duration::try_from(jiff::Timestamp::now().duration_since(t)).ok());
        if aged(age, upload_min_age) {
            if !dry_run {
                store.abort_upload(&upload)?;
            }
            aborted += 1;
            let since = begun.map_or_else(String::new, |t| format!(" (begun {t:.0})"));
            let name = store.upload_name(&upload);
            if !quiet {
                super::line(
                    &mut out,
                    &format!("{abort_verb} unfinished upload {name}{since}"),
                )?;
            }
        }
    }
    out.flush()?;
    if !quiet {
        let verb = if dry_run { "would free" } else { "freed" };
        let uploads = match aborted {
            0 => String::new(),
            n => format!(", {abort_verb} {n} unfinished uploads"),
        };
        let files = crate::stderr::count(count, "file", "files");
        say!("gc: {files}, {verb} {}{uploads}", HumanBytes(freed));
    }
    Ok(Exit::Success)
}

/// What a torn last line may name: its object when it is whole but for
/// its newline, else the hash prefix it still shows (the catalog indexes
/// only whole lines).
#[derive(Default)]
struct TornNames {
    ids: Vec<ObjectId>,
    /// From a torn line that is not whole: every object whose hash starts
    /// with one of these may be the one it names (an empty prefix: any).
    prefixes: Vec<String>,
}

impl TornNames {
    fn names(&self, id: &ObjectId) -> bool {
        self.ids.contains(id) || {
            let hex = id.to_string();
            self.prefixes.iter().any(|p| hex.starts_with(p.as_str()))
        }
    }
}

/// Reads every line (streamed, nothing kept but a torn line's names), and
/// refuses to go on past a line it cannot read: that line may name an
/// object, which must not be removed.
fn torn_names(store: &dyn StoreView) -> Result<TornNames> {
    let mut torn = TornNames::default();
    for line in store.entries()? {
        match line? {
            Line::Value(_) => {}
            Line::Torn { text, .. } => match torn_entry(&text) {
                Some(entry) => torn.ids.push(entry.sha256),
                None => torn.prefixes.push(torn_hash_prefix(&text)),
            },
            Line::Unreadable { offset, .. } => anyhow::bail!(
                "manifest line at byte {offset} is unreadable: not removing orphans (see ingest verify)"
            ),
        }
    }
    Ok(torn)
}

/// The part of a hash that a line cut short still shows: the hex digits
/// after its `"sha256":"`, or nothing (then it may name any object).
fn torn_hash_prefix(text: &[u8]) -> String {
    const KEY: &[u8] = b"\"sha256\":\"";
    let Some(at) = memchr::memmem::find(text, KEY) else {
        return String::new();
    };
    text[at + KEY.len()..]
        .iter()
        .take_while(|b| b.is_ascii_hexdigit())
        .map(|&b| char::from(b.to_ascii_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_line_protects_what_its_hash_prefix_may_name() {
        assert_eq!(torn_hash_prefix(b"{\"sha256\":\"ab12"), "ab12");
        assert_eq!(torn_hash_prefix(b"{\"sha256\":\"AB12\",\"si"), "ab12");
        assert_eq!(torn_hash_prefix(b"{\"sha2"), "");
        assert_eq!(torn_hash_prefix(b""), "");
    }
}
