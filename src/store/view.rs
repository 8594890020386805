//! The read side of a store, for the store tools: the manifest's entries,
//! the objects as listed, their bytes, and the few repairs the tools make.
//! A local directory and an S3 prefix answer the same questions, so `ls`,
//! `cat`, `export`, `verify`, `gc`, `stats` and `copy` are written once.

use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use super::{LookupError, Unfinished};
use crate::catalog::{Catalog, EntryQuery, NamedObject, ObjectFacts};
use crate::manifest::{Entry, Line};
use crate::object_id::ObjectId;
use crate::trash::TrashRecord;

/// The small records a store keeps beside its manifest, each a JSONL file
/// named `<time>-<random>.jsonl` in a folder of its kind (a key prefix on
/// S3), written whole or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// Entries removed to the trash (see [`crate::trash`]).
    Trash,
    /// What complete walks found gone from their folders, or back (see
    /// [`crate::deletions`]).
    Walks,
}

impl RecordKind {
    /// The folder (or key prefix, with a `/`) the records live in.
    pub fn folder(self) -> &'static str {
        match self {
            RecordKind::Trash => "trash",
            RecordKind::Walks => "walks",
        }
    }
}

/// Manifest lines in order.
pub type LineIter = Box<dyn Iterator<Item = io::Result<Line>>>;

/// What lies where objects live, in the order of their keys (by id),
/// listed as it is read: memory stays flat whatever the store's size.
pub type ListedIter = Box<dyn Iterator<Item = Result<Listed>>>;

/// One thing found where objects live.
#[derive(Debug, Clone)]
pub struct Listed {
    /// A path or a key, for messages.
    pub shown: String,
    /// The object it is, when its name and place are canonical.
    pub id: Option<ObjectId>,
    pub size: u64,
    /// How long ago it was last written, when known.
    pub age: Option<Duration>,
}

/// Something an interrupted run left behind.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub shown: String,
    pub size: u64,
    pub age: Option<Duration>,
    /// A running ingest still holds it.
    pub in_use: bool,
}

impl From<(PathBuf, fs::Metadata, bool)> for Leftover {
    /// A temp or spool file, with whether a running ingest holds it.
    fn from((path, meta, in_use): (PathBuf, fs::Metadata, bool)) -> Self {
        Leftover {
            shown: path.display().to_string(),
            size: meta.len(),
            age: age_of(&meta),
            in_use,
        }
    }
}

/// What the store tools need of a store; see the module documentation.
pub trait StoreView {
    fn describe(&self) -> String;

    /// How to name the manifest in messages.
    fn manifest_name(&self) -> String;

    /// Every manifest line, in order; none for a store without a manifest.
    fn entries(&self) -> Result<LineIter>;

    /// The newest entries (with their line numbers) that `query` admits and
    /// `fits` accepts, at most `limit`, newest first. Without a catalog,
    /// one pass over the manifest keeping only the newest `limit`.
    fn newest_entries(
        &self,
        query: &EntryQuery,
        fits: &dyn Fn(&Entry) -> bool,
        limit: usize,
    ) -> Result<Vec<(u64, Entry)>> {
        let mut page = Vec::new();
        let asked = self.with_catalog(true, &mut |catalog, manifest| {
            page = catalog.newest_entries(manifest, query, fits, limit)?;
            Ok(())
        })?;
        match asked {
            true => Ok(page),
            false => scan_newest(self, query, fits, limit),
        }
    }

    /// Asks the store's catalog, with the manifest file it indexes (its
    /// entries caught up first when `catch_up`); false when the store has
    /// none, and the answers come from a pass over the manifest.
    fn with_catalog(
        &self,
        catch_up: bool,
        ask: &mut dyn FnMut(&Catalog, &std::fs::File) -> Result<()>,
    ) -> Result<bool> {
        let _ = (catch_up, ask);
        Ok(false)
    }

    /// Brings the catalog's entries up to date with the manifest, so that
    /// a first question does not pay for a rebuild (the server does this
    /// before it listens). Nothing for a store without a catalog.
    fn catch_up(&self) -> Result<()> {
        self.with_catalog(true, &mut |_, _| Ok(()))?;
        Ok(())
    }

    /// The type and first date of object `id`, as its entries say; None
    /// when no entry names it.
    fn object_facts(&self, id: &ObjectId) -> Result<Option<ObjectFacts>> {
        let mut facts = None;
        let asked = self.with_catalog(true, &mut |catalog, _| {
            facts = catalog.facts(id)?;
            Ok(())
        })?;
        match asked {
            true => Ok(facts),
            false => scan_facts(self, id),
        }
    }

    /// Rewrites the manifest without the entries `remove` picks, at once
    /// for every reader: the old manifest stays whole until the new one is
    /// durable, then takes its place. `before` is given the entries found,
    /// before the manifest changes (the trash records them there, so a
    /// crash never loses one). Returns the entries removed, and of their
    /// objects those no kept entry names. To be called only while writers
    /// are excluded ([`StoreView::exclude_writers`]).
    fn remove_entries(
        &self,
        remove: &dyn Fn(&Entry) -> bool,
        before: &mut dyn FnMut(&[Entry]) -> Result<()>,
    ) -> Result<Removed> {
        let _ = (remove, before);
        anyhow::bail!(
            "{}: removing entries is not possible on this store yet",
            self.describe()
        )
    }

    /// Appends `entries` whose identity the manifest does not hold yet
    /// (what the trash gives back); says which were appended. To be called
    /// only while writers are excluded.
    fn append_entries(&self, entries: &[Entry]) -> Result<Vec<bool>> {
        let _ = entries;
        anyhow::bail!(
            "{}: restoring entries is not possible on this store yet",
            self.describe()
        )
    }

    /// The records of `kind`, oldest first: (key, text) each.
    fn records(&self, kind: RecordKind) -> Result<Vec<(String, Vec<u8>)>>;

    /// Writes the record of `kind` named `key` durably, replacing one of
    /// its key; None removes it.
    fn put_record(&self, kind: RecordKind, key: &str, text: Option<&[u8]>) -> Result<()>;

    /// The trash's records, oldest first (see [`crate::trash`]).
    fn trash(&self) -> Result<Vec<TrashRecord>> {
        let records = self.records(RecordKind::Trash)?;
        records
            .iter()
            .map(|(key, text)| TrashRecord::parse(key, text))
            .collect()
    }

    /// Writes `record` durably, replacing one of its key; a record with no
    /// entries is removed.
    fn put_trash(&self, record: &TrashRecord) -> Result<()> {
        let text = (!record.entries.is_empty()).then(|| record.text());
        self.put_record(RecordKind::Trash, &record.key, text.as_deref())
    }

    /// Adds `add` to the store's block list (`blocked` in its
    /// `config.json`) and takes `remove` off it: every front end refuses
    /// the bytes on it. Returns the list as it now is.
    fn change_block_list(&self, add: &[ObjectId], remove: &[ObjectId]) -> Result<Vec<String>> {
        let _ = (add, remove);
        anyhow::bail!(
            "{}: a block list is not possible on this store yet",
            self.describe()
        )
    }

    /// Where this machine keeps the store's partial uploads (tus): the
    /// store's `uploads/`, or an S3 store's cache folder.
    fn partials(&self) -> crate::partial::Partials;

    /// The store's `config.json` (its policy, block list and trash days).
    fn store_config(&self) -> Result<crate::policy::StoreConfig>;

    /// Everything under `objects/`, objects and strays alike, streamed.
    fn listing(&self) -> Result<ListedIter>;

    /// How to name object `id` in messages.
    fn object_name(&self, id: &ObjectId) -> String;

    /// The object's bytes, streamed.
    fn read_object(&self, id: &ObjectId) -> Result<Box<dyn Read + Send>> {
        self.read_object_range(id, 0, None)
    }

    /// `len` bytes of the object from `start` on (to its end with None),
    /// streamed: a range of a large object (a video a browser seeks in)
    /// costs only what it holds. The range must lie within the object: S3
    /// refuses one that passes its end (an error, not a short read).
    fn read_object_range(
        &self,
        id: &ObjectId,
        start: u64,
        len: Option<u64>,
    ) -> Result<Box<dyn Read + Send>>;

    /// The object's size, or None when it is not stored.
    fn object_size(&self, id: &ObjectId) -> Result<Option<u64>>;

    /// The object a full hash or a unique prefix of 6+ hex digits names.
    fn resolve(&self, prefix: &str) -> Result<ObjectId, LookupError>;

    /// Moves a corrupt object aside into `quarantine/`; says where.
    fn quarantine(&self, listed: &Listed) -> Result<String>;

    /// Removes a listed object (an orphan).
    fn remove_object(&self, listed: &Listed) -> Result<()>;

    /// Deletes object `id`; its size, or None when it was not there.
    fn delete_object(&self, id: &ObjectId) -> Result<Option<u64>> {
        let Some(size) = self.object_size(id)? else {
            return Ok(None);
        };
        let listed = Listed {
            shown: self.object_name(id),
            id: Some(*id),
            size,
            age: None,
        };
        self.remove_object(&listed)?;
        Ok(Some(size))
    }

    /// Removes a leftover unless a running ingest holds it now: false when
    /// one does (it was checked a moment before, and a writer may have
    /// started since).
    fn remove_leftover(&self, leftover: &Leftover) -> Result<bool> {
        super::held::remove_unheld(std::path::Path::new(&leftover.shown))
            .with_context(|| format!("removing {}", leftover.shown))
    }

    /// What interrupted runs left.
    fn leftovers(&self) -> Result<Vec<Leftover>>;

    /// The object as a local file, for hard links.
    fn local_path(&self, id: &ObjectId) -> Option<PathBuf>;

    /// Waits (at most `wait`) until no writer runs, and keeps any from
    /// starting until the guard is dropped: what `gc` holds across reading
    /// the manifest and removing orphans, so that it never removes an
    /// object a run in progress has published or found present.
    fn exclude_writers(&self, wait: Duration) -> Result<WritersExcluded>;

    /// Uploads begun and never completed (only an object store has them).
    fn unfinished_uploads(&self) -> Result<Vec<Unfinished>> {
        Ok(Vec::new())
    }

    /// Aborts an unfinished upload.
    fn abort_upload(&self, upload: &Unfinished) -> Result<()> {
        anyhow::bail!("{}: no uploads to abort ({})", self.describe(), upload.key)
    }

    /// How to name an unfinished upload in messages.
    fn upload_name(&self, upload: &Unfinished) -> String {
        upload.key.clone()
    }
}

/// What [`StoreView::remove_entries`] removed.
#[derive(Debug, Default)]
pub struct Removed {
    pub entries: Vec<Entry>,
    /// The objects of those entries that no kept entry names.
    pub unnamed: Vec<ObjectId>,
}

/// Held while no writer may run; dropping it lets them in again.
pub struct WritersExcluded(#[allow(dead_code)] Box<dyn std::any::Any>);

impl WritersExcluded {
    pub fn new(guard: impl std::any::Any) -> Self {
        WritersExcluded(Box::new(guard))
    }
}

pub(super) fn age_of(meta: &fs::Metadata) -> Option<Duration> {
    SystemTime::now().duration_since(meta.modified().ok()?).ok()
}

/// The newest entries `fits` accepts, in one pass over the manifest that
/// keeps only `limit` of them: a store without a catalog.
pub fn scan_newest(
    view: &(impl StoreView + ?Sized),
    query: &EntryQuery,
    fits: &dyn Fn(&Entry) -> bool,
    limit: usize,
) -> Result<Vec<(u64, Entry)>> {
    let mut newest = std::collections::VecDeque::with_capacity(limit + 1);
    for (line, read) in view.entries()?.enumerate() {
        let line = line as u64;
        if query.before.is_some_and(|before| line >= before) {
            break;
        }
        let Line::Value(entry) = read? else { continue };
        if fits(&entry) {
            if newest.len() == limit {
                newest.pop_front();
            }
            newest.push_back((line, entry));
        }
    }
    Ok(newest.into_iter().rev().collect())
}

/// An object's facts in one pass over the manifest: a store without a
/// catalog.
pub fn scan_facts(view: &(impl StoreView + ?Sized), id: &ObjectId) -> Result<Option<ObjectFacts>> {
    let mut facts: Option<ObjectFacts> = None;
    for read in view.entries()? {
        let Line::Value(entry) = read? else { continue };
        if entry.sha256 != *id {
            continue;
        }
        let at = Some(entry.ingested_at).filter(|at| !at.is_empty());
        match &mut facts {
            None => {
                facts = Some(ObjectFacts {
                    mime: entry.mime,
                    since: at,
                })
            }
            Some(facts) => {
                if at.is_some() && (facts.since.is_none() || at < facts.since) {
                    facts.since = at;
                }
            }
        }
    }
    Ok(facts)
}

/// The objects the manifest names, in the order of their ids: from the
/// catalog a chunk at a time (memory stays flat), or, for a store without
/// one, from one pass over the manifest kept in memory.
pub struct NamedObjects<'a> {
    view: &'a dyn StoreView,
    chunk: std::collections::VecDeque<NamedObject>,
    after: Option<ObjectId>,
    exhausted: bool,
    memory: Option<std::collections::btree_map::IntoIter<ObjectId, NamedObject>>,
}

/// Objects asked of the catalog at once.
const NAMED_CHUNK: usize = 4096;

impl<'a> NamedObjects<'a> {
    pub fn of(view: &'a dyn StoreView) -> Result<Self> {
        let mut named = NamedObjects {
            view,
            chunk: Default::default(),
            after: None,
            exhausted: false,
            memory: None,
        };
        if !view.with_catalog(true, &mut |_, _| Ok(()))? {
            let mut map = std::collections::BTreeMap::new();
            for (line, read) in view.entries()?.enumerate() {
                let Line::Value(entry) = read? else { continue };
                let named = map.entry(entry.sha256).or_insert(NamedObject {
                    id: entry.sha256,
                    size: entry.size,
                    largest: entry.size,
                    first_line: line as u64,
                });
                named.size = named.size.min(entry.size);
                named.largest = named.largest.max(entry.size);
            }
            named.memory = Some(map.into_iter());
        }
        Ok(named)
    }
}

impl Iterator for NamedObjects<'_> {
    type Item = Result<NamedObject>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(memory) = &mut self.memory {
            return memory.next().map(|(_, named)| Ok(named));
        }
        if self.chunk.is_empty() && !self.exhausted {
            let mut chunk = Vec::new();
            let after = self.after;
            let asked = self.view.with_catalog(false, &mut |catalog, _| {
                chunk = catalog.named_after(after.as_ref(), NAMED_CHUNK)?;
                Ok(())
            });
            if let Err(e) = asked {
                self.exhausted = true;
                return Some(Err(e));
            }
            self.exhausted = chunk.len() < NAMED_CHUNK;
            self.after = chunk.last().map(|named| named.id);
            self.chunk.extend(chunk);
        }
        self.chunk.pop_front().map(Ok)
    }
}

/// One step of walking the objects listed and the objects the manifest
/// names side by side ([`PairedObjects`]).
pub enum Paired {
    /// Something listed, with what the manifest says of it: None when no
    /// entry names it, or when it is not an object at all (`id` None).
    Listed(Listed, Option<NamedObject>),
    /// An object the manifest names that is not listed: missing.
    Unlisted(NamedObject),
}

/// The store's listing and the objects its manifest names, both in the
/// order of their ids, walked side by side: memory stays flat whatever the
/// store's size. A listing out of order is an error (before the object it
/// was found at is given), so a caller never takes a named object for an
/// unnamed one.
pub struct PairedObjects<'a> {
    listing: ListedIter,
    named: NamedObjects<'a>,
    next_named: Option<NamedObject>,
    /// The listed object waiting while the named ones before it are given.
    current: Option<Listed>,
    last: Option<ObjectId>,
}

impl<'a> PairedObjects<'a> {
    pub fn of(view: &'a dyn StoreView) -> Result<Self> {
        let mut named = NamedObjects::of(view)?;
        let next_named = named.next().transpose()?;
        Ok(PairedObjects {
            listing: view.listing()?,
            named,
            next_named,
            current: None,
            last: None,
        })
    }

    /// The next named object, the one before taken.
    fn take_named(&mut self) -> Result<Option<NamedObject>> {
        let next = self.named.next().transpose()?;
        Ok(std::mem::replace(&mut self.next_named, next))
    }

    fn step(&mut self) -> Result<Option<Paired>> {
        let object = match self.current.take() {
            Some(object) => object,
            None => match self.listing.next() {
                Some(listed) => {
                    let listed = listed?;
                    if let Some(id) = listed.id {
                        if self.last.is_some_and(|last| last >= id) {
                            anyhow::bail!(
                                "the store's listing is not in the order of ids (at {})",
                                listed.shown
                            );
                        }
                        self.last = Some(id);
                    }
                    listed
                }
                None => return Ok(self.take_named()?.map(Paired::Unlisted)),
            },
        };
        let Some(id) = object.id else {
            return Ok(Some(Paired::Listed(object, None)));
        };
        if self.next_named.as_ref().is_some_and(|n| n.id < id) {
            self.current = Some(object);
            return Ok(self.take_named()?.map(Paired::Unlisted));
        }
        let named = match self.next_named.as_ref().is_some_and(|n| n.id == id) {
            true => self.take_named()?,
            false => None,
        };
        Ok(Some(Paired::Listed(object, named)))
    }
}

impl Iterator for PairedObjects<'_> {
    type Item = Result<Paired>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step().transpose()
    }
}
