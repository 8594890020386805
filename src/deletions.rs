//! Deletions: which recorded paths a walk found gone from its folder, so
//! that a tree restored as it stood on a date leaves out what had been
//! deleted by then.
//!
//! Entries say when a path's content was stored, never that the file went
//! away. So a complete walk of a folder (one that met no error and was not
//! cut short by `--max-depth`) compares what it found with what the files
//! cache knew under that folder: a path the cache knew and the walk did
//! not find is *gone* from then on. A path found again whose content the
//! manifest already holds (a file deleted, then put back as it was) gets
//! no new entry, so the walk says it is *back*. Each walk that finds either
//! writes one record (`walks/<time>-<random>.jsonl`, beside the trash's
//! records, local or in the bucket), one JSON line per path: `{"gone": P}`
//! or `{"back": P}` (with `_b64` when P is not UTF-8).
//!
//! A path's state on a date is then its latest event by then: an entry or
//! a `back` makes it present, a `gone` absent. Deletions are seen through
//! the files cache, so a run with `--no-cache` records none.

use std::ffi::OsString;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::manifest::{raw_or_text, text_and_raw};
use crate::store::{RecordKind, StoreView};

/// What one complete walk found changed beyond its entries.
#[derive(Debug, Clone, Default)]
pub struct WalkRecord {
    /// Its name in the store: `<YYYYMMDDTHHMMSSZ>-<16 hex>`.
    pub key: String,
    /// When the walk ended, as entries' `ingested_at` are written.
    pub at: String,
    pub gone: Vec<OsString>,
    pub back: Vec<OsString>,
}

/// One line of a record.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gone_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    back: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    back_b64: Option<String>,
}

impl WalkRecord {
    /// A record of a walk that ends now, under a fresh name.
    pub fn new(gone: Vec<OsString>, back: Vec<OsString>) -> Result<Self> {
        let (key, at) = crate::trash::fresh_key()?;
        let at = at.to_string();
        Ok(WalkRecord {
            key,
            at,
            gone,
            back,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.gone.is_empty() && self.back.is_empty()
    }

    /// The record's text: a line per path.
    pub fn text(&self) -> Vec<u8> {
        let mut text = Vec::new();
        let lines = self.gone.iter().map(|p| (p, true));
        for (path, gone) in lines.chain(self.back.iter().map(|p| (p, false))) {
            let (plain, raw) = text_and_raw(path);
            let line = match gone {
                true => Line {
                    gone: Some(plain),
                    gone_b64: raw,
                    back: None,
                    back_b64: None,
                },
                false => Line {
                    gone: None,
                    gone_b64: None,
                    back: Some(plain),
                    back_b64: raw,
                },
            };
            text.extend(serde_json::to_vec(&line).unwrap_or_default());
            text.push(b'\n');
        }
        text
    }

    /// The record a store holds under `key`, from its text.
    pub fn parse(key: &str, text: &[u8]) -> Result<Self> {
        let at = crate::trash::time_of(key)
            .with_context(|| format!("walk record {key:?}: not a record name"))?;
        let mut record = WalkRecord {
            key: key.to_owned(),
            at: at.to_string(),
            ..WalkRecord::default()
        };
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let line: Line = serde_json::from_slice(line)
                .with_context(|| format!("walk record {key}: line {} is unreadable", n + 1))?;
            if let Some(path) = &line.gone {
                record
                    .gone
                    .push(raw_or_text(path, line.gone_b64.as_deref()));
            }
            if let Some(path) = &line.back {
                record
                    .back
                    .push(raw_or_text(path, line.back_b64.as_deref()));
            }
        }
        Ok(record)
    }
}

/// Every walk record of the store, oldest first.
pub fn walk_records(store: &dyn StoreView) -> Result<Vec<WalkRecord>> {
    let records = store.records(RecordKind::Walks)?;
    records
        .iter()
        .map(|(key, text)| WalkRecord::parse(key, text))
        .collect()
}

/// Writes `record` into the store, unless it says nothing.
pub fn put_walk_record(store: &dyn StoreView, record: &WalkRecord) -> Result<()> {
    if record.is_empty() {
        return Ok(());
    }
    store.put_record(RecordKind::Walks, &record.key, Some(&record.text()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn a_record_reads_back_as_written_odd_bytes_included() {
        let odd = OsString::from_vec(b"Photos/caf\xe9.jpg".to_vec());
        let record = WalkRecord::new(
            vec![OsString::from("Photos/a b/ü.jpg"), odd.clone()],
            vec![OsString::from("Photos/back.jpg")],
        )
        .unwrap();
        let back = WalkRecord::parse(&record.key, &record.text()).unwrap();
        assert_eq!(back.gone, record.gone);
        assert_eq!(back.back, record.back);
        assert_eq!(back.at, record.at);
        assert!(WalkRecord::parse(&record.key, b"{not json\n").is_err());
    }
}
