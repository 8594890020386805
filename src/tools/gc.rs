//! `ingest gc`: remove what crashed runs left behind.
//!
//! A temp file is removed only when no running ingest holds its lock and it
//! is over an hour old; an orphan object (with `--orphans`) only when it is
//! over an hour old too, since a running ingest publishes an object a
//! moment before it appends the line that names it. On S3, a multipart
//! upload never completed is aborted once it is a day old: it may be
//! another machine's, still under way.

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};
use std::time::Duration;

use anyhow::Result;
use indicatif::HumanBytes;

use crate::cli::GlobalArgs;
use crate::exit::Exit;
use crate::manifest::Line;
use crate::object_id::ObjectId;
use crate::store::StoreView;

const MIN_AGE: Duration = Duration::from_secs(3600);
const UPLOAD_MIN_AGE: Duration = Duration::from_secs(24 * 3600);

/// `older_than` replaces both ages.
pub fn run(
    global: &GlobalArgs,
    orphans: bool,
    dry_run: bool,
    older_than: Option<Duration>,
) -> Result<Exit> {
    let store = super::open_store(global)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let (mut count, mut freed) = (0u64, 0u64);
    let mut removed = |shown: &str, size: u64, what: &str| -> Result<()> {
        count += 1;
        freed += size;
        let verb = if dry_run { "would remove" } else { "removed" };
        super::line(
            &mut out,
            &format!("{verb} {what} {shown} ({})", HumanBytes(size)),
        )?;
        Ok(())
    };
    let min_age = older_than.unwrap_or(MIN_AGE);
    let upload_min_age = older_than.unwrap_or(UPLOAD_MIN_AGE);
    let aged = |age: Option<Duration>, min: Duration| age.is_some_and(|age| age >= min);
    for leftover in store.leftovers()? {
        if !leftover.in_use && aged(leftover.age, min_age) {
            if !dry_run {
                store.remove_leftover(&leftover)?;
            }
            removed(&leftover.shown, leftover.size, "temp file")?;
        }
    }
    if orphans {
        let named = named_objects(store.as_ref())?;
        for object in store.listing()? {
            let Some(id) = object.id else { continue };
            if !named.contains(&id) && aged(object.age, min_age) {
                if !dry_run {
                    store.remove_object(&object)?;
                }
                removed(&object.shown, object.size, "orphan object")?;
            }
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
            super::line(
                &mut out,
                &format!("{abort_verb} unfinished upload {name}{since}"),
            )?;
        }
    }
    out.flush()?;
    if !global.quiet {
        let verb = if dry_run { "would free" } else { "freed" };
        let uploads = match aborted {
            0 => String::new(),
            n => format!(", {abort_verb} {n} unfinished uploads"),
        };
        eprintln!(
            "ingest: gc: {count} files, {verb} {}{uploads}",
            HumanBytes(freed)
        );
    }
    Ok(Exit::Success)
}

/// Every object some manifest line names. Refuses to go on past a line it
/// cannot read: that line may name an object, which must not be removed.
fn named_objects(store: &dyn StoreView) -> Result<HashSet<ObjectId>> {
    let mut named = HashSet::new();
    for line in store.entries()? {
        match line? {
            Line::Value(entry) => {
                named.insert(entry.sha256);
            }
            Line::Torn { .. } => {}
            Line::Unreadable { offset, .. } => anyhow::bail!(
                "manifest line at byte {offset} is unreadable: not removing orphans (see ingest verify)"
            ),
        }
    }
    Ok(named)
}
