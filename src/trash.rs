//! The trash: entries removed by a hand that may have slipped (the page,
//! the API, `ingest rm --trash`), kept whole with their objects until they
//! are restored or the trash is emptied.
//!
//! A removal to the trash writes a record first, then takes its entries
//! out of the manifest; the objects stay. A record is one small JSONL file
//! (`trash/<time>-<random>.jsonl` in the store, local or in the bucket)
//! holding the removed lines as they were, its name saying when. An object
//! any record names is kept by `gc --orphans` and by `rm` as if an entry
//! named it, so nothing in the trash loses its bytes. Emptying a record
//! removes it and then the objects that neither the manifest nor another
//! record names, under the same exclusion of writers as `rm`.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::manifest::{Entry, Identity};
use crate::object_id::ObjectId;
use crate::store::StoreView;

/// How long trashed entries stay when nothing else is said.
pub const DEFAULT_DAYS: u64 = 30;

/// One removal's worth of trashed entries.
#[derive(Debug, Clone)]
pub struct TrashRecord {
    /// Its name in the store: `<YYYYMMDDTHHMMSSZ>-<16 hex>`.
    pub key: String,
    /// When the entries were removed.
    pub at: jiff::Timestamp,
    pub entries: Vec<Entry>,
}

impl TrashRecord {
    /// A record of `entries` removed now, under a fresh name.
    pub fn new(entries: Vec<Entry>) -> Result<Self> {
        let (key, at) = fresh_key()?;
        Ok(TrashRecord { key, at, entries })
    }

    /// The record a store holds under `key`, from its text; a line that
    /// does not parse is an error (a record is written whole or not at all).
    pub fn parse(key: &str, text: &[u8]) -> Result<Self> {
        let at =
            time_of(key).with_context(|| format!("trash record {key:?}: not a record name"))?;
        let mut entries = Vec::new();
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let entry = serde_json::from_slice(line)
                .with_context(|| format!("trash record {key}: line {} is unreadable", n + 1))?;
            entries.push(entry);
        }
        Ok(TrashRecord {
            key: key.to_owned(),
            at,
            entries,
        })
    }

    /// The record's text: its entries' lines.
    pub fn text(&self) -> Vec<u8> {
        self.entries.iter().flat_map(Entry::to_line).collect()
    }

    /// Whether it has been in the trash for `days` or more.
    pub fn expired(&self, days: u64, now: jiff::Timestamp) -> bool {
        let kept = Duration::from_secs(days.saturating_mul(24 * 3600));
        now.duration_since(self.at)
            .try_into()
            .is_ok_and(|age: Duration| age >= kept)
    }
}

/// A fresh record name made now (`<YYYYMMDDTHHMMSSZ>-<16 hex>`), and the
/// time it says (to the second).
pub fn fresh_key() -> Result<(String, jiff::Timestamp)> {
    let now = jiff::Timestamp::now();
    let at = jiff::Timestamp::from_second(now.as_second())?;
    let mut random = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| anyhow::anyhow!("no randomness from the system"))?;
    let key = format!("{}-{}", at.strftime("%Y%m%dT%H%M%SZ"), hex::encode(random));
    Ok((key, at))
}

/// When a record of this name was made; None when it is no record's name.
pub fn time_of(key: &str) -> Option<jiff::Timestamp> {
    let (stamp, random) = key.split_once('-')?;
    if random.len() != 16 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if stamp.len() != 16 || !stamp.is_ascii() {
        return None;
    }
    let field = |range: std::ops::Range<usize>| &stamp[range];
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        field(0..4),
        field(4..6),
        field(6..8),
        field(9..11),
        field(11..13),
        field(13..15)
    );
    (stamp.as_bytes()[8] == b'T' && stamp.ends_with('Z'))
        .then(|| text.parse().ok())
        .flatten()
}

/// The objects the trash keeps: every one a record names.
pub fn held_objects(records: &[TrashRecord]) -> HashSet<ObjectId> {
    records
        .iter()
        .flat_map(|r| r.entries.iter().map(|e| e.sha256))
        .collect()
}

/// An entry's id as the API and the CLI show it: its identity in hex.
pub fn entry_id(entry: &Entry) -> String {
    hex::encode(entry.identity().as_bytes())
}

/// The identity an entry id names; an error saying why for anything else.
pub fn parse_entry_id(text: &str) -> Result<Identity> {
    let mut bytes = [0u8; 16];
    if text.len() != 32 || hex::decode_to_slice(text, &mut bytes).is_err() {
        bail!("{text:?} is not an entry id (32 hex digits, as ls --json and the API show)");
    }
    Ok(Identity::from_bytes(bytes))
}

/// What emptying or restoring came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The entries taken out of the trash (restored, or gone for good).
    pub entries: Vec<Entry>,
    /// Objects deleted, with their sizes.
    pub deleted: Vec<(ObjectId, u64)>,
    /// Entries that could not be restored: their object is gone.
    pub missing: Vec<Entry>,
}

/// Takes the entries `picks` chooses out of the trash for good, then
/// deletes the objects that neither the manifest nor what stays in the
/// trash names. To be called while writers are excluded.
pub fn empty(
    store: &dyn StoreView,
    picks: &dyn Fn(&TrashRecord, &Entry) -> bool,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut records = store.trash()?;
    for record in &mut records {
        let entries = std::mem::take(&mut record.entries);
        let (gone, kept): (Vec<Entry>, Vec<Entry>) =
            entries.into_iter().partition(|e| picks(record, e));
        record.entries = kept;
        if !gone.is_empty() {
            store.put_trash(record)?;
            outcome.entries.extend(gone);
        }
    }
    let held = held_objects(&records);
    let mut ids: Vec<ObjectId> = outcome.entries.iter().map(|e| e.sha256).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        if held.contains(&id) || store.object_facts(&id)?.is_some() {
            continue;
        }
        if let Some(size) = store.delete_object(&id)? {
            outcome.deleted.push((id, size));
        }
    }
    Ok(outcome)
}

/// Puts the entries `picks` chooses back into the manifest (those whose
/// object is still stored) and takes them out of the trash. The manifest
/// gets them first: a crash between leaves an entry in both, which a
/// second restore or an emptying handles (an object the manifest names is
/// never deleted). To be called while writers are excluded.
pub fn restore(store: &dyn StoreView, picks: &dyn Fn(&Entry) -> bool) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    for mut record in store.trash()? {
        let (back, kept): (Vec<Entry>, Vec<Entry>) = record.entries.drain(..).partition(picks);
        if back.is_empty() {
            continue;
        }
        let mut present = Vec::new();
        record.entries = kept;
        for entry in back {
            match store.object_size(&entry.sha256)? {
                Some(_) => present.push(entry),
                None => {
                    record.entries.push(entry.clone());
                    outcome.missing.push(entry);
                }
            }
        }
        store.append_entries(&present)?;
        store.put_trash(&record)?;
        outcome.entries.extend(present);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_name_says_when() {
        let record = TrashRecord::new(Vec::new()).unwrap();
        assert_eq!(time_of(&record.key), Some(record.at));
        assert!(time_of("20261207T101010Z-0011223344556677").is_some());
        assert!(time_of("20261207T101010Z-00112233").is_none());
        assert!(time_of("yesterday-0011223344556677").is_none());
        let at = time_of("20261107T000000Z-0011223344556677").unwrap();
        let record = TrashRecord {
            key: String::new(),
            at,
            entries: Vec::new(),
        };
        let now: jiff::Timestamp = "2026-12-07T00:00:00Z".parse().unwrap();
        assert!(record.expired(30, now));
        assert!(!record.expired(31, now));
    }

    #[test]
    fn entry_ids_are_32_hex_digits() {
        assert!(parse_entry_id(&"ab".repeat(16)).is_ok());
        assert!(parse_entry_id(&"ab".repeat(32)).is_err());
        assert!(parse_entry_id("zz").is_err());
    }
}
