//! The files cache: what each file was when it was last stored, so that a
//! nightly run over the same folders reads only what changed.
//!
//! A file whose path, device, inode, size, mtime and ctime are all as
//! recorded is reported `unchanged` without reading a byte. The cache is
//! only a speed-up: a record is written after the file's manifest line is
//! durable, a damaged cache is discarded with a warning, and a missing one
//! means every file is read again.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::jsonl::{self, Line, Lines};
use crate::manifest::{Entry, raw_or_text};
use crate::object_id::ObjectId;
use crate::sniff::Kind;

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl FileKey {
    pub fn of(meta: &fs::Metadata) -> Self {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
        }
    }

    /// A file changed this recently may change again within the same clock
    /// tick without its times showing it, so it is not cached (git calls
    /// these "racily clean").
    pub fn is_settled(&self, run_started_ns: i128) -> bool {
        const MARGIN_NS: i128 = 2_000_000_000;
        self.mtime_ns < run_started_ns - MARGIN_NS && self.ctime_ns < run_started_ns - MARGIN_NS
    }
}

/// One cache line: a file's key and what it was stored as.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The absolute path, as in the manifest's `source` (with `path_b64`
    /// holding the exact bytes when they are not UTF-8).
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_b64: Option<String>,
    pub key: FileKey,
    pub sha256: ObjectId,
    pub mime: String,
    pub ext: String,
    pub ingested_at: String,
}

impl Record {
    /// The manifest entry this file was stored as.
    pub fn entry(&self, name: &OsStr) -> Entry {
        let kind = Kind {
            mime: self.mime.clone(),
            ext: self.ext.clone(),
        };
        let path = raw_or_text(&self.path, self.path_b64.as_deref());
        let at = self.ingested_at.clone();
        Entry::new(self.sha256, self.key.size, kind, name, &path, at)
    }
}

/// The cache of one store, loaded into memory (one small record per file).
pub struct FilesCache {
    path: PathBuf,
    /// Keyed by path with foldhash: a lookup per file walked, and SipHash
    /// over every path was a visible part of an unchanged re-run.
    records: HashMap<OsString, Record, foldhash::fast::RandomState>,
}

impl FilesCache {
    /// Loads the cache at `path`. A line that does not parse means the cache
    /// cannot be trusted: it is discarded whole, with a warning.
    /// With `may_repair` false (a dry run) nothing on disk changes.
    pub fn load(path: &Path, may_repair: bool) -> Self {
        let mut cache = FilesCache {
            path: path.to_path_buf(),
            records: HashMap::default(),
        };
        match cache.read_records() {
            Ok(()) => {}
            Err(e) => {
                say!(
                    "warning: discarding the files cache {}: {e:#}",
                    path.display()
                );
                cache.records.clear();
                if may_repair {
                    let _ = fs::remove_file(path);
                }
            }
        }
        cache
    }

    fn read_records(&mut self) -> Result<()> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for line in Lines::<_, Record>::new(BufReader::new(file), 0) {
            match line? {
                Line::Value(record) => {
                    let path = record_path(&record);
                    self.records.insert(path, record);
                }
                Line::Torn { .. } => {}
                Line::Unreadable { offset, reason } => {
                    anyhow::bail!("damaged line at byte {offset}: {reason}")
                }
            }
        }
        Ok(())
    }

    /// The entry fields a file was stored with, if it has not changed since.
    pub fn lookup(&self, source: &OsStr, key: &FileKey) -> Option<&Record> {
        self.records.get(source).filter(|r| r.key == *key)
    }

    /// Records files just stored (their manifest lines are durable). Called
    /// under the store's lock, since two runs may append at once.
    pub fn append(&mut self, stored: &[(FileKey, Entry)]) -> Result<()> {
        if stored.is_empty() {
            return Ok(());
        }
        let mut text = Vec::new();
        for (key, entry) in stored {
            let record = Record {
                path: entry.source.clone(),
                path_b64: entry.source_b64.clone(),
                key: *key,
                sha256: entry.sha256,
                mime: entry.mime.clone(),
                ext: entry.ext.clone(),
                ingested_at: entry.ingested_at.clone(),
            };
            text.extend_from_slice(&jsonl::to_line(&record));
            self.records.insert(entry.source_bytes(), record);
        }
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .read(true)
            .create(true)
            .open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        let len = jsonl::repair_torn_tail(&file)?;
        // The cache is a hint, so no fsync: after a crash a record may be
        // missing (the file is read again) but never wrong, as a torn or
        // damaged line discards the cache.
        jsonl::append(&file, len, &text)
            .map(drop)
            .with_context(|| format!("appending to {}", self.path.display()))
    }
}

fn record_path(record: &Record) -> OsString {
    crate::manifest::raw_or_text(&record.path, record.path_b64.as_deref())
}
