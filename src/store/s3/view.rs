//! The S3 store as the store tools read it ([`StoreView`]).

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use super::S3Store;
use crate::manifest::Entry;
use crate::object_id::ObjectId;
use crate::store::view::{scan_facts, scan_newest};
use crate::store::{
    EntryQuery, FirstNaming, Leftover, LineIter, Listed, ListedIter, LookupError, ObjectFacts,
    StoreView, Unfinished, WritersExcluded,
};

impl StoreView for S3Store {
    fn describe(&self) -> String {
        S3Store::describe(self)
    }

    fn manifest_name(&self) -> String {
        format!("{}/manifest/", self.url())
    }

    fn entries(&self) -> Result<LineIter> {
        Ok(Box::new(self.lines()?))
    }

    fn newest_entries(
        &self,
        query: &EntryQuery,
        fits: &dyn Fn(&Entry) -> bool,
        limit: usize,
    ) -> Result<Vec<(u64, Entry)>> {
        let page = self.ask_catalog(|catalog, manifest| {
            catalog.newest_entries(manifest, query, fits, limit)
        })?;
        match page {
            Some(page) => Ok(page),
            None => scan_newest(self, query, fits, limit),
        }
    }

    fn catch_up(&self) -> Result<()> {
        self.ask_catalog(|_, _| Ok(()))?;
        Ok(())
    }

    fn object_facts(&self, id: &ObjectId) -> Result<Option<ObjectFacts>> {
        match self.ask_catalog(|catalog, _| catalog.facts(id))? {
            Some(facts) => Ok(facts),
            None => scan_facts(self, id),
        }
    }

    fn listing(&self) -> Result<ListedIter> {
        self.objects_listed()
    }

    fn first_naming(&self) -> Result<FirstNaming<'_>> {
        // The catalog's entries, caught up once; then asked per entry.
        if self.ask_catalog(|_, _| Ok(()))?.is_none() {
            let mut seen = std::collections::HashSet::new();
            return Ok(Box::new(move |_, id| Ok(seen.insert(*id))));
        }
        Ok(Box::new(move |line, id| {
            let first = self.ask_catalog_as_is(|catalog| catalog.first_line_of(id))?;
            Ok(first.flatten().is_none_or(|first| first == line))
        }))
    }

    fn object_name(&self, id: &ObjectId) -> String {
        format!("{}/{}", self.url(), S3Store::object_key(id))
    }

    fn read_object_range(
        &self,
        id: &ObjectId,
        start: u64,
        len: Option<u64>,
    ) -> Result<Box<dyn Read + Send>> {
        self.open_object(id, start, len)
    }

    fn resolve(&self, prefix: &str) -> Result<ObjectId, LookupError> {
        S3Store::resolve(self, prefix)
    }

    fn quarantine(&self, listed: &Listed) -> Result<String> {
        self.move_to_quarantine(&listed.shown)
    }

    fn remove_object(&self, listed: &Listed) -> Result<()> {
        S3Store::remove_object(self, &listed.shown)
    }

    fn leftovers(&self) -> Result<Vec<Leftover>> {
        // Uploads write no temporary keys (objects go up create-only from
        // a local spool), so only this machine's spool can hold leftovers.
        Ok(self.spool_files().into_iter().map(Leftover::from).collect())
    }

    fn local_path(&self, _id: &ObjectId) -> Option<PathBuf> {
        None
    }

    fn object_size(&self, id: &ObjectId) -> Result<Option<u64>> {
        S3Store::object_size(self, id)
    }

    fn exclude_writers(&self, wait: Duration) -> Result<WritersExcluded> {
        Ok(WritersExcluded::new(self.lock_exclusively(wait)?))
    }

    fn unfinished_uploads(&self) -> Result<Vec<Unfinished>> {
        S3Store::unfinished_uploads(self)
    }

    fn abort_upload(&self, upload: &Unfinished) -> Result<()> {
        S3Store::abort_upload(self, upload)
    }

    fn upload_name(&self, upload: &Unfinished) -> String {
        self.key_url(&upload.key)
    }
}
