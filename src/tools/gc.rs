//! `ingest gc`: remove what crashed runs left behind.
//!
//! A temp file is removed only when no running ingest holds its lock and it
//! is over an hour old; an orphan object (with `--orphans`) only when it is
//! over an hour old too, since a running ingest publishes an object a
//! moment before it appends the line that names it.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use indicatif::HumanBytes;

use crate::cli::GlobalArgs;
use crate::exit::Exit;
use crate::manifest::Line;
use crate::object_id::ObjectId;

const MIN_AGE: Duration = Duration::from_secs(3600);

pub fn run(global: &GlobalArgs, orphans: bool, dry_run: bool) -> Result<Exit> {
    let store = super::open_store(global)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let (mut count, mut freed) = (0u64, 0u64);
    let mut remove = |path: &Path, size: u64, what: &str| -> Result<()> {
        if !dry_run {
            fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        }
        count += 1;
        freed += size;
        super::line(
            &mut out,
            &format!(
                "{}{what} {} ({})",
                if dry_run { "would remove " } else { "removed " },
                path.display(),
                HumanBytes(size)
            ),
        )?;
        Ok(())
    };
    for (path, meta, in_use) in store.temp_files()? {
        if !in_use && is_older_than(&meta, MIN_AGE) {
            remove(&path, meta.len(), "temp file")?;
        }
    }
    if orphans {
        let named = named_objects(&store)?;
        for object in store.object_files() {
            let object = object?;
            let Some(id) = object.id.filter(|_| object.is_file) else {
                continue;
            };
            let old = fs::metadata(&object.path).is_ok_and(|m| is_older_than(&m, MIN_AGE));
            if !named.contains(&id) && old {
                remove(&object.path, object.size, "orphan object")?;
            }
        }
    }
    out.flush()?;
    if !global.quiet {
        let verb = if dry_run { "would free" } else { "freed" };
        eprintln!("ingest: gc: {count} files, {verb} {}", HumanBytes(freed));
    }
    Ok(Exit::Success)
}

fn is_older_than(meta: &fs::Metadata, age: Duration) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|elapsed| elapsed > age)
}

/// Every object some manifest line names. Refuses to go on past a line it
/// cannot read: that line may name an object, which must not be removed.
fn named_objects(store: &crate::store::LocalStore) -> Result<HashSet<ObjectId>> {
    let mut named = HashSet::new();
    for line in store.lines()?.into_iter().flatten() {
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
