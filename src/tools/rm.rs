//! `ingest rm`: remove entries from the manifest, then the objects no
//! remaining entry names.
//!
//! Removal is the one operation that destroys data on purpose, so it runs
//! as gc does: writers are kept out while it works (none can record an
//! entry naming an object it is about to delete, nor have one in flight),
//! the manifest is replaced whole and durably before any object goes, and
//! an object stays while any kept entry names it.

use std::io::{self, BufWriter, Write};

use anyhow::Result;
use indicatif::HumanBytes;

use super::filter::{EntryFilter, resolve_hashes};
use super::ls::show;
use crate::cli::{GlobalArgs, RmArgs};
use crate::exit::Exit;
use crate::manifest::{Entry, Line};
use crate::object_id::ObjectId;
use crate::store::{Listed, Opener};

pub fn run(global: &GlobalArgs, opener: &Opener, args: &RmArgs) -> Result<Exit> {
    let Some(filter) = EntryFilter::or_usage(&args.filter) else {
        return Ok(Exit::Usage);
    };
    if args.hashes.is_empty() && filter.is_empty() {
        say!(
            "rm: say what to remove: hashes, --name, --source, --mime, --since or --until (nothing is removed without one)"
        );
        return Ok(Exit::Usage);
    }
    let store = opener.view()?;
    let wanted = resolve_hashes(store.as_ref(), &args.hashes)?;
    let picks = |entry: &Entry| {
        (wanted.is_empty() || wanted.contains(&entry.sha256)) && filter.matches(entry)
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if args.dry_run {
        let mut count = 0u64;
        for line in store.entries()? {
            if let Line::Value(entry) = line?
                && picks(&entry)
            {
                show(&mut out, &entry, global.json)?;
                count += 1;
            }
        }
        out.flush()?;
        if !global.quiet {
            let entries = crate::stderr::count(count, "entry", "entries");
            say!("rm: would remove {entries}");
        }
        return Ok(Exit::Success);
    }
    let _excluded = store.exclude_writers(opener.wait_lock)?;
    let removed = store.remove_entries(&picks)?;
    if args.block {
        // Blocked before any object goes: a writer that starts once this
        // run ends refuses the bytes, even if deleting them fails.
        let mut ids: Vec<ObjectId> = removed.entries.iter().map(|e| e.sha256).collect();
        ids.sort();
        ids.dedup();
        store.change_block_list(&ids, &[])?;
    }
    for entry in &removed.entries {
        show(&mut out, entry, global.json)?;
    }
    out.flush()?;
    // The new manifest is in place: no kept entry names these any more.
    let mut freed = 0u64;
    for id in &removed.unnamed {
        let Some(size) = store.object_size(id)? else {
            continue;
        };
        let listed = Listed {
            shown: store.object_name(id),
            id: Some(*id),
            size,
            age: None,
        };
        store.remove_object(&listed)?;
        freed += size;
    }
    if !global.quiet {
        let count = crate::stderr::count;
        say!(
            "rm: removed {}; deleted {} ({})",
            count(removed.entries.len() as u64, "entry", "entries"),
            count(removed.unnamed.len() as u64, "object", "objects"),
            HumanBytes(freed)
        );
    }
    Ok(Exit::Success)
}
