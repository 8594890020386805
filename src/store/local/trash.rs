//! The records of a local store (its trash, its walks): `<kind>/<key>.jsonl`,
//! one file per record, each written beside itself, synced and renamed
//! into place.

use std::fs;
use std::io::{self, Write};

use anyhow::{Context, Result};

use super::{LocalStore, sync_dir};
use crate::store::RecordKind;

impl LocalStore {
    /// See [`crate::store::StoreView::records`].
    pub fn record_files(&self, kind: RecordKind) -> Result<Vec<(String, Vec<u8>)>> {
        let dir = self.path(kind.folder());
        let listed = match fs::read_dir(&dir) {
            Ok(listed) => listed,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut records = Vec::new();
        for found in listed {
            let found = found.with_context(|| format!("reading {}", dir.display()))?;
            let name = found.file_name();
            let Some(key) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")) else {
                continue; // a temp file of a write under way, or a stray
            };
            if crate::trash::time_of(key).is_none() {
                continue;
            }
            let path = found.path();
            let text = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            records.push((key.to_owned(), text));
        }
        records.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(records)
    }

    /// See [`crate::store::StoreView::put_record`].
    pub fn put_record_file(&self, kind: RecordKind, key: &str, text: Option<&[u8]>) -> Result<()> {
        let dir = self.path(kind.folder());
        let path = dir.join(format!("{key}.jsonl"));
        let Some(text) = text else {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
            return sync_dir(&dir);
        };
        if super::create_dir_once(&dir)? {
            sync_dir(&self.root)?;
        }
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{}-", kind.folder()))
            .tempfile_in(&dir)
            .with_context(|| format!("writing in {}", dir.display()))?;
        temp.write_all(text)
            .and_then(|()| temp.as_file().sync_all())
            .with_context(|| format!("writing {}", path.display()))?;
        temp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("writing {}", path.display()))?;
        sync_dir(&dir)
    }

    /// See [`crate::store::StoreView::append_entries`]: under the
    /// manifest's lock, as a writer appends.
    pub fn append_entries(&self, entries: &[crate::manifest::Entry]) -> Result<Vec<bool>> {
        let mut manifest = super::OpenManifest::open(
            &self.path(super::MANIFEST),
            &self.path(super::LOCK),
            &self.catalog_path(),
        )?;
        let lock_path = self.path(super::LOCK);
        let lock = manifest.lock.take().context("the manifest's lock")?;
        super::lock_within(&lock, self.wait_lock, super::Lock::Exclusive)
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let appended = manifest.append_new(entries);
        let _ = lock.unlock();
        appended.with_context(|| format!("appending to {}", self.path(super::MANIFEST).display()))
    }
}
