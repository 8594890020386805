//! `ingest rm`: remove entries from the manifest, then the objects no
//! remaining entry names (see [`crate::removal`]); or to the trash, or
//! everything naming their objects (`--purge`).

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};

use anyhow::Result;
use indicatif::HumanBytes;

use super::filter::{EntryFilter, resolve_hashes};
use super::ls::show;
use crate::cli::{GlobalArgs, RmArgs};
use crate::exit::Exit;
use crate::manifest::{Entry, Identity, Line};
use crate::removal::{self, Disposal};
use crate::store::Opener;

pub fn run(global: &GlobalArgs, opener: &Opener, args: &RmArgs) -> Result<Exit> {
    let Some(mut filter) = EntryFilter::or_usage(&args.filter) else {
        return Ok(Exit::Usage);
    };
    if let Some(age) = args.older_than {
        filter = filter.older_than(age);
    }
    let ids: HashSet<Identity> = match args
        .ids
        .iter()
        .map(|id| crate::trash::parse_entry_id(id))
        .collect()
    {
        Ok(ids) => ids,
        Err(usage) => {
            say!("rm: --id: {usage:#}");
            return Ok(Exit::Usage);
        }
    };
    if args.hashes.is_empty() && ids.is_empty() && filter.is_empty() {
        say!(
            "rm: say what to remove: hashes, --id, --name, --source, --mime, --since, --until or --older-than (nothing is removed without one)"
        );
        return Ok(Exit::Usage);
    }
    let store = opener.view()?;
    let wanted = resolve_hashes(store.as_ref(), &args.hashes)?;
    let picks = |entry: &Entry| {
        (wanted.is_empty() || wanted.contains(&entry.sha256))
            && (ids.is_empty() || ids.contains(&entry.identity()))
            && filter.matches(entry)
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
    let disposal = match (args.trash, args.purge) {
        (true, _) => Disposal::Trash,
        (false, true) => Disposal::Purge,
        (false, false) => Disposal::Delete,
    };
    let removal = removal::remove(
        store.as_ref(),
        &picks,
        disposal,
        args.block,
        opener.wait_lock,
    )?;
    for entry in &removal.entries {
        show(&mut out, entry, global.json)?;
    }
    out.flush()?;
    if !global.quiet {
        let count = crate::stderr::count;
        let entries = count(removal.entries.len() as u64, "entry", "entries");
        let also = match removal.from_trash {
            0 => String::new(),
            n => format!(
                " and {} from the trash",
                count(n as u64, "entry", "entries")
            ),
        };
        match removal.trashed {
            Some(record) => say!(
                "rm: moved {entries} to the trash ({record}); restore with ingest trash restore"
            ),
            None => {
                let freed: u64 = removal.deleted.iter().map(|(_, size)| size).sum();
                say!(
                    "rm: removed {entries}{also}; deleted {} ({})",
                    count(removal.deleted.len() as u64, "object", "objects"),
                    HumanBytes(freed)
                );
            }
        }
    }
    Ok(Exit::Success)
}
