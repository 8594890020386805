//! The local store as the store tools read it ([`StoreView`]).

use std::fs;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::LocalStore;
use crate::catalog::{Catalog, Part};
use crate::manifest::Entry;
use crate::object_id::ObjectId;
use crate::store::view::age_of;
use crate::store::{
    Leftover, LineIter, Listed, ListedIter, LookupError, Removed, StoreView, WritersExcluded,
};

/// The catalog on the read side: its entries caught up with the manifest
/// before each question.
#[derive(Debug, Default)]
pub(super) enum Reading {
    #[default]
    Unopened,
    Open(Catalog, fs::File),
    /// It could not be opened (said once): questions read the manifest.
    Unusable,
}

impl LocalStore {
    /// Asks the catalog, caught up first when `catch_up`; None when there is no manifest
    /// yet or no usable catalog (the caller reads the manifest instead).
    fn ask_catalog<T>(
        &self,
        catch_up: bool,
        ask: impl FnOnce(&Catalog, &fs::File) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut reading = self.reading.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.root().join(super::MANIFEST);
        // A manifest replaced since it was opened (`ingest rm` renames the
        // new one over it) is opened again: the file held is the old one.
        if let Reading::Open(_, held) = &*reading
            && replaced(held, &path)
        {
            *reading = Reading::Unopened;
        }
        if let Reading::Unopened = *reading {
            let manifest = match fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
            };
            *reading = match Catalog::open(&self.catalog_path()) {
                Ok(catalog) => Reading::Open(catalog, manifest),
                Err(e) => {
                    say!("warning: reading the manifest without the catalog: {e:#}");
                    Reading::Unusable
                }
            };
        }
        let Reading::Open(catalog, manifest) = &mut *reading else {
            return Ok(None);
        };
        if catch_up && let Err(e) = catalog.catch_up(manifest, Part::Entries) {
            say!("warning: reading the manifest without the catalog: {e:#}");
            *reading = Reading::Unusable;
            return Ok(None);
        }
        ask(catalog, manifest).map(Some)
    }
}

/// Whether `path` is no longer the file `held` (replaced or removed).
fn replaced(held: &fs::File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (held.metadata(), fs::metadata(path)) {
        (Ok(held), Ok(now)) => held.ino() != now.ino() || held.dev() != now.dev(),
        _ => true,
    }
}

impl StoreView for LocalStore {
    fn describe(&self) -> String {
        self.root().display().to_string()
    }

    fn manifest_name(&self) -> String {
        self.root().join("manifest.jsonl").display().to_string()
    }

    fn entries(&self) -> Result<LineIter> {
        Ok(match self.lines()? {
            Some(lines) => Box::new(lines),
            None => Box::new(std::iter::empty()),
        })
    }

    fn with_catalog(
        &self,
        catch_up: bool,
        ask: &mut dyn FnMut(&Catalog, &fs::File) -> Result<()>,
    ) -> Result<bool> {
        Ok(self
            .ask_catalog(catch_up, |catalog, manifest| ask(catalog, manifest))?
            .is_some())
    }

    fn remove_entries(
        &self,
        remove: &dyn Fn(&Entry) -> bool,
        before: &mut dyn FnMut(&[Entry]) -> Result<()>,
    ) -> Result<Removed> {
        LocalStore::remove_entries(self, remove, before)
    }

    fn append_entries(&self, entries: &[Entry]) -> Result<Vec<bool>> {
        LocalStore::append_entries(self, entries)
    }

    fn records(&self, kind: crate::store::RecordKind) -> Result<Vec<(String, Vec<u8>)>> {
        self.record_files(kind)
    }

    fn put_record(
        &self,
        kind: crate::store::RecordKind,
        key: &str,
        text: Option<&[u8]>,
    ) -> Result<()> {
        self.put_record_file(kind, key, text)
    }

    fn change_block_list(&self, add: &[ObjectId], remove: &[ObjectId]) -> Result<Vec<String>> {
        LocalStore::change_block_list(self, add, remove)
    }

    fn partials(&self) -> crate::partial::Partials {
        crate::partial::Partials::new(self.root().join("uploads"))
    }

    fn store_config(&self) -> Result<crate::policy::StoreConfig> {
        crate::store::Backend::config(self)
    }

    fn listing(&self) -> Result<ListedIter> {
        Ok(Box::new(self.object_files().map(|found| {
            let found = found?;
            let age = fs::symlink_metadata(&found.path)
                .ok()
                .and_then(|m| age_of(&m));
            Ok(Listed {
                shown: found.path.display().to_string(),
                id: found.id.filter(|_| found.is_file),
                size: found.size,
                age,
            })
        })))
    }

    fn object_name(&self, id: &ObjectId) -> String {
        self.object_path(id).display().to_string()
    }

    fn read_object_range(
        &self,
        id: &ObjectId,
        start: u64,
        len: Option<u64>,
    ) -> Result<Box<dyn Read + Send>> {
        // Whatever sits at the path, a FIFO cannot hang the reader.
        let path = self.object_path(id);
        let (mut file, _) = crate::input::open_regular(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        if start > 0 {
            file.seek(SeekFrom::Start(start))
                .with_context(|| format!("reading {}", path.display()))?;
        }
        let file = BufReader::with_capacity(64 << 10, file);
        Ok(Box::new(file.take(len.unwrap_or(u64::MAX))))
    }

    fn resolve(&self, prefix: &str) -> Result<ObjectId, LookupError> {
        LocalStore::resolve(self, prefix)
    }

    fn quarantine(&self, listed: &Listed) -> Result<String> {
        let moved = LocalStore::quarantine(self, listed.shown.as_ref())?;
        Ok(moved.display().to_string())
    }

    fn remove_object(&self, listed: &Listed) -> Result<()> {
        fs::remove_file(&listed.shown).with_context(|| format!("removing {}", listed.shown))
    }

    fn leftovers(&self) -> Result<Vec<Leftover>> {
        Ok(self.temp_files()?.into_iter().map(Leftover::from).collect())
    }

    fn local_path(&self, id: &ObjectId) -> Option<PathBuf> {
        Some(self.object_path(id))
    }

    fn object_size(&self, id: &ObjectId) -> Result<Option<u64>> {
        let path = self.object_path(id);
        match fs::metadata(&path) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn exclude_writers(&self, wait: Duration) -> Result<WritersExcluded> {
        Ok(WritersExcluded::new(LocalStore::exclude_writers(
            self, wait,
        )?))
    }
}
