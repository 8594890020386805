//! Removal on an S3 store: entries taken out of the manifest's history
//! (see [`super::manifest::Mirror::remove`]), the trash under `trash/`,
//! the block list in `config.json`.

use anyhow::{Context, Result};
use opendal::{EntryMode, ErrorKind};

use super::{CONFIG_JSON, S3Store};
use crate::manifest::Entry;
use crate::object_id::ObjectId;
use crate::store::RecordKind;
use crate::store::Removed;

impl S3Store {
    /// See [`crate::store::StoreView::remove_entries`].
    pub fn remove_entries(
        &self,
        remove: &dyn Fn(&Entry) -> bool,
        before: &mut dyn FnMut(&[Entry]) -> Result<()>,
    ) -> Result<Removed> {
        let removed = self.with_mirror(super::Fresh::Once, |mirror, remote| {
            mirror.locked(|mirror| mirror.remove(remote, remove, before))
        })?;
        if !removed.entries.is_empty() {
            self.forget_sources(&removed.entries);
        }
        Ok(removed)
    }

    /// The files cache forgets the removed entries' sources, so a later
    /// run over the same folder reads those files again.
    fn forget_sources(&self, removed: &[Entry]) {
        let forget = || -> Result<()> {
            crate::catalog::Catalog::open(&self.catalog_path_here())?.forget_sources_of(removed)
        };
        if let Err(e) = forget() {
            say!("warning: the files cache still holds the removed sources: {e:#}");
        }
    }

    /// See [`crate::store::StoreView::append_entries`].
    pub fn append_entries(&self, entries: &[Entry]) -> Result<Vec<bool>> {
        self.with_mirror(super::Fresh::ByItself, |mirror, remote| {
            mirror.locked(|mirror| mirror.commit(remote, entries))
        })
    }

    /// See [`crate::store::StoreView::records`].
    pub fn record_objects(&self, kind: RecordKind) -> Result<Vec<(String, Vec<u8>)>> {
        let folder = format!("{}/", kind.folder());
        let listed = match self.op.list(&folder) {
            Ok(listed) => listed,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.failed(&format!("listing {folder}"), e)),
        };
        let mut records = Vec::new();
        for found in listed {
            if found.metadata().mode() != EntryMode::FILE {
                continue;
            }
            let path = found.path();
            let Some(key) = path
                .strip_prefix(&folder)
                .and_then(|name| name.strip_suffix(".jsonl"))
                .filter(|key| crate::trash::time_of(key).is_some())
            else {
                continue;
            };
            let text = self
                .op
                .read(path)
                .map_err(|e| self.failed(&format!("reading {path}"), e))?;
            records.push((key.to_owned(), text.to_vec()));
        }
        records.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(records)
    }

    /// See [`crate::store::StoreView::put_record`].
    pub fn put_record_object(
        &self,
        kind: RecordKind,
        key: &str,
        text: Option<&[u8]>,
    ) -> Result<()> {
        let key = format!("{}/{key}.jsonl", kind.folder());
        let done = match text {
            None => self.op.delete(&key),
            Some(text) => self.op.write(&key, text.to_vec()).map(|_| ()),
        };
        done.map_err(|e| self.failed(&format!("writing {key}"), e))
    }

    /// See [`crate::store::StoreView::change_block_list`]: `config.json`
    /// read and written whole (writers are excluded while `rm` changes it;
    /// `ingest block` beside another `ingest block` may lose one change).
    pub fn change_block_list(&self, add: &[ObjectId], remove: &[ObjectId]) -> Result<Vec<String>> {
        let text = match self.op.read(CONFIG_JSON) {
            Ok(bytes) => Some(bytes.to_vec()),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(self.failed(&format!("reading {CONFIG_JSON}"), e)),
        };
        let shown = format!("{}/{CONFIG_JSON}", self.url());
        let (changed, now) =
            crate::policy::change_block_list(text.as_deref(), add, remove, &shown)?;
        if let Some(changed) = changed {
            self.op
                .write(CONFIG_JSON, changed)
                .map_err(|e| self.failed(&format!("writing {CONFIG_JSON}"), e))
                .with_context(|| format!("changing the block list of {}", self.url()))?;
        }
        Ok(now)
    }

    /// See [`crate::store::StoreView::delete_object`].
    pub fn delete_object(&self, id: &ObjectId) -> Result<Option<u64>> {
        let Some(size) = self.object_size(id)? else {
            return Ok(None);
        };
        self.remove_object(&S3Store::object_key(id))?;
        Ok(Some(size))
    }
}
