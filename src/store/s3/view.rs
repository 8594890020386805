//! The S3 store as the store tools read it ([`StoreView`]).

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use super::S3Store;
use crate::catalog::Catalog;
use crate::object_id::ObjectId;
use crate::store::{
    Leftover, LineIter, Listed, ListedIter, LookupError, StoreView, Unfinished, WritersExcluded,
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

    fn with_catalog(
        &self,
        catch_up: bool,
        ask: &mut dyn FnMut(&Catalog, &File) -> Result<()>,
    ) -> Result<bool> {
        Ok(self
            .ask_catalog(catch_up, |catalog, manifest| ask(catalog, manifest))?
            .is_some())
    }

    fn remove_entries(
        &self,
        remove: &dyn Fn(&crate::manifest::Entry) -> bool,
        before: &mut dyn FnMut(&[crate::manifest::Entry]) -> Result<()>,
    ) -> Result<crate::store::Removed> {
        S3Store::remove_entries(self, remove, before)
    }

    fn append_entries(&self, entries: &[crate::manifest::Entry]) -> Result<Vec<bool>> {
        S3Store::append_entries(self, entries)
    }

    fn records(&self, kind: crate::store::RecordKind) -> Result<Vec<(String, Vec<u8>)>> {
        self.record_objects(kind)
    }

    fn put_record(
        &self,
        kind: crate::store::RecordKind,
        key: &str,
        text: Option<&[u8]>,
    ) -> Result<()> {
        self.put_record_object(kind, key, text)
    }

    fn change_block_list(&self, add: &[ObjectId], remove: &[ObjectId]) -> Result<Vec<String>> {
        S3Store::change_block_list(self, add, remove)
    }

    fn delete_object(&self, id: &ObjectId) -> Result<Option<u64>> {
        S3Store::delete_object(self, id)
    }

    fn partials(&self) -> crate::partial::Partials {
        crate::partial::Partials::new(self.partials_dir())
    }

    fn store_config(&self) -> Result<crate::policy::StoreConfig> {
        crate::store::Backend::config(self)
    }

    fn listing(&self) -> Result<ListedIter> {
        self.objects_listed()
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
