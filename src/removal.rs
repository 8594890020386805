//! Removal: the one operation that destroys data on purpose, written once
//! for `ingest rm`, the server's `DELETE` and the trash.
//!
//! It runs as `gc --orphans` does: writers are kept out while it works, so
//! none can record an entry naming an object it is about to delete, nor
//! have one in flight. The manifest is replaced whole and durably before
//! any object goes, and an object stays while a kept entry or the trash
//! names it: a crash at any point leaves either the old manifest or the
//! new one, and never an entry naming a missing object.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;

use crate::manifest::Entry;
use crate::object_id::ObjectId;
use crate::store::StoreView;
use crate::trash::{self, TrashRecord};

/// What becomes of the removed entries' objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposal {
    /// Deleted once no kept entry (nor the trash) names them.
    Delete,
    /// Kept, with the entries, in a trash record to restore from.
    Trash,
    /// Deleted at once, with every entry naming them, the trash's too.
    Purge,
}

/// What a removal came to.
#[derive(Debug, Default)]
pub struct Removal {
    pub entries: Vec<Entry>,
    /// Objects deleted, with their sizes.
    pub deleted: Vec<(ObjectId, u64)>,
    /// The trash record the entries went to.
    pub trashed: Option<String>,
    /// Entries taken out of the trash (by a purge).
    pub from_trash: usize,
}

/// Removes the entries `picks` chooses, as `disposal` says, blocking their
/// objects first when `block`. Writers are excluded for the whole of it
/// (waiting at most `wait` for those at work).
pub fn remove(
    store: &dyn StoreView,
    picks: &dyn Fn(&Entry) -> bool,
    disposal: Disposal,
    block: bool,
    wait: Duration,
) -> Result<Removal> {
    let _excluded = store.exclude_writers(wait)?;
    let mut removal = Removal::default();
    let purged: Option<HashSet<ObjectId>> = match disposal {
        Disposal::Purge => Some(objects_picked(store, picks)?),
        _ => None,
    };
    let picks = |entry: &Entry| match &purged {
        Some(ids) => ids.contains(&entry.sha256),
        None => picks(entry),
    };
    let mut trashed = None;
    let removed = store.remove_entries(&picks, &mut |entries| {
        if disposal == Disposal::Trash {
            let record = TrashRecord::new(entries.to_vec())?;
            store.put_trash(&record)?;
            trashed = Some(record.key);
        }
        Ok(())
    })?;
    removal.trashed = trashed;
    if let Some(ids) = &purged {
        let emptied = trash::empty(store, &|_, entry| ids.contains(&entry.sha256))?;
        removal.from_trash = emptied.entries.len();
        removal.deleted.extend(emptied.deleted);
    }
    let mut gone: Vec<ObjectId> = match &purged {
        Some(ids) => ids.iter().copied().collect(),
        None => removed.entries.iter().map(|e| e.sha256).collect(),
    };
    gone.sort();
    gone.dedup();
    if block && !gone.is_empty() {
        // Blocked before any object goes: a writer that starts once this
        // ends refuses the bytes, even if deleting them fails.
        store.change_block_list(&gone, &[])?;
    }
    removal.entries = removed.entries;
    if disposal == Disposal::Trash {
        return Ok(removal);
    }
    // The new manifest is in place: no kept entry names the unnamed ones.
    let unnamed: HashSet<ObjectId> = removed.unnamed.into_iter().collect();
    // A purge deletes whatever the trash held: no need to ask it.
    let held = match purged {
        Some(_) => HashSet::new(),
        None => trash::held_objects(&store.trash()?),
    };
    for id in gone {
        let free = purged.is_some() || (unnamed.contains(&id) && !held.contains(&id));
        if free && let Some(size) = store.delete_object(&id)? {
            removal.deleted.push((id, size));
        }
    }
    Ok(removal)
}

/// The objects of the entries `picks` chooses.
fn objects_picked(
    store: &dyn StoreView,
    picks: &dyn Fn(&Entry) -> bool,
) -> Result<HashSet<ObjectId>> {
    let mut ids = HashSet::new();
    for line in store.entries()? {
        if let crate::manifest::Line::Value(entry) = line?
            && picks(&entry)
        {
            ids.insert(entry.sha256);
        }
    }
    for record in store.trash()? {
        ids.extend(record.entries.iter().filter(|e| picks(e)).map(|e| e.sha256));
    }
    Ok(ids)
}
