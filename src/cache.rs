//! The files cache: what each file was when it was last stored, so that a
//! nightly run over the same folders reads only what changed.
//!
//! A file whose path, device, inode, size, mtime and ctime are all as
//! recorded is reported `unchanged` without reading a byte. The records are
//! kept in the catalog (one row per path, replaced when the file changes),
//! so a run asks only about the files it walks. The cache is only a
//! speed-up: a record is written after the file's manifest line is
//! durable, and a missing one means the file is read again.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::jsonl::{Line, Lines};
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
    /// Kept only to know the file was there (for [`crate::deletions`]):
    /// it changed too recently, or while it was read, for its key to be
    /// trusted, so it is read again next time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untrusted: bool,
}

/// A file as a run saw it, for its cache record.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub key: FileKey,
    /// Whether its key may spare reading it next time (see
    /// [`FileKey::is_settled`]).
    pub trusted: bool,
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

/// The cache of one store: its records in the catalog, asked one path at
/// a time, so a run costs what it walks, not what the cache holds.
pub struct FilesCache {
    catalog: Option<Catalog>,
}

/// The cache as it was kept before the catalog, a JSON-lines file beside
/// it: its records move into the catalog once, and the file goes.
const LEGACY: &str = "files-v1.jsonl";

impl FilesCache {
    /// The cache in the catalog at `path`. With `may_write` false (a dry
    /// run) nothing on disk changes, and without a catalog yet every file
    /// is read. A catalog that cannot be used means no cache, with a
    /// warning: every file is read again.
    pub fn load(path: &Path, may_write: bool) -> Self {
        if !may_write {
            return FilesCache {
                catalog: Catalog::open_to_read(path),
            };
        }
        let catalog = Catalog::open(path).and_then(|mut catalog| {
            import_legacy(&mut catalog, path)?;
            Ok(catalog)
        });
        match catalog {
            Ok(catalog) => FilesCache {
                catalog: Some(catalog),
            },
            Err(e) => {
                say!("warning: going on without the files cache: {e:#}");
                FilesCache { catalog: None }
            }
        }
    }

    /// The entry fields a file was stored with, if it has not changed since.
    /// A record that does not parse is no record: the file is read.
    pub fn lookup(&self, source: &OsStr, key: &FileKey) -> Option<Record> {
        let found = self.catalog.as_ref()?.file_record(source.as_bytes());
        let text = found.ok()??;
        let record: Record = serde_json::from_slice(&text).ok()?;
        (record.key == *key && !record.untrusted).then_some(record)
    }

    /// The files recorded below the folder `dir` (ending in `/`), by
    /// their absolute paths; none without a cache.
    pub fn files_under(&self, dir: &[u8]) -> Result<Vec<Vec<u8>>> {
        match &self.catalog {
            Some(catalog) => catalog.file_paths_under(dir),
            None => Ok(Vec::new()),
        }
    }

    /// Forgets the records of `paths` (files found gone).
    pub fn forget(&mut self, paths: &[Vec<u8>]) -> Result<()> {
        match self.catalog.as_mut() {
            Some(catalog) => catalog.forget_files(paths),
            None => Ok(()),
        }
    }

    /// Whether there is a cache to ask (not `--no-cache`, and usable).
    pub fn is_kept(&self) -> bool {
        self.catalog.is_some()
    }

    /// Records files just stored (their manifest lines are durable).
    pub fn append(&mut self, stored: &[(Seen, Entry)]) -> Result<()> {
        let Some(catalog) = self.catalog.as_mut() else {
            return Ok(());
        };
        if stored.is_empty() {
            return Ok(());
        }
        let records: Vec<(Vec<u8>, Vec<u8>)> = stored
            .iter()
            .map(|(seen, entry)| {
                let record = Record {
                    path: entry.source.clone(),
                    path_b64: entry.source_b64.clone(),
                    key: seen.key,
                    sha256: entry.sha256,
                    mime: entry.mime.clone(),
                    ext: entry.ext.clone(),
                    ingested_at: entry.ingested_at.clone(),
                    untrusted: !seen.trusted,
                };
                let text = serde_json::to_vec(&record).unwrap_or_default();
                (entry.source_bytes().into_vec(), text)
            })
            .collect();
        // The cache is a hint, so no fsync of its own (SQLite's NORMAL
        // sync in WAL mode): after a crash a record may be missing (the
        // file is read again) but never wrong.
        catalog.put_file_records(&records)
    }
}

/// Moves the records of the cache's former file (`files-v1.jsonl` beside
/// the catalog) into the catalog, then removes the file. A damaged file is
/// dropped: it was only a speed-up.
fn import_legacy(catalog: &mut Catalog, path: &Path) -> Result<()> {
    let legacy = path.with_file_name(LEGACY);
    let file = match File::open(&legacy) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("opening {}", legacy.display())),
    };
    let mut records = Vec::new();
    for line in Lines::<_, Record>::new(BufReader::new(file), 0) {
        match line {
            Ok(Line::Value(record)) => {
                let text = serde_json::to_vec(&record).unwrap_or_default();
                records.push((record_path(&record).into_vec(), text));
            }
            Ok(Line::Torn { .. }) => {}
            Ok(Line::Unreadable { .. }) | Err(_) => {
                records.clear();
                break;
            }
        }
        if records.len() >= 100_000 {
            catalog.put_file_records(&records)?;
            records.clear();
        }
    }
    catalog.put_file_records(&records)?;
    fs::remove_file(&legacy).with_context(|| format!("removing {}", legacy.display()))
}

fn record_path(record: &Record) -> OsString {
    crate::manifest::raw_or_text(&record.path, record.path_b64.as_deref())
}
