//! The local store as the engine's [`Backend`]: publish objects, record
//! their lines.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::*;
use crate::manifest::Entry;
use crate::object_id::ObjectId;
use crate::store::{Backend, Committed};

impl Backend for LocalStore {
    type Staged = LocalStaging;
    type Stager = LocalStager;

    fn stager(&self) -> LocalStager {
        LocalStager {
            tmp: self.path(TMP),
        }
    }

    fn publish(&mut self, staged: Vec<(LocalStaging, ObjectId)>) -> Result<Vec<Committed>> {
        let mut outcome = vec![Committed::AlreadyPresent; staged.len()];
        // A lone object is synced on its own: when its content is stored
        // already, spare the fsync of a copy about to be dropped. A batch
        // costs one syncfs whatever it holds, so there the rename, which
        // never replaces, finds out, and a look per object would be waste.
        let single = staged.len() == 1;
        let mut pending = Vec::new();
        for (i, (staging, id)) in staged.into_iter().enumerate() {
            if !(single && self.object_present(&id)?) {
                pending.push((i, (staging, id)));
            }
        }
        if pending.is_empty() {
            return Ok(outcome);
        }
        // Content first: nothing is renamed into objects/ before its bytes
        // are durable, so objects/ never holds a partial file.
        let batch_alone = pending.len() > 1 && self.sync_alone;
        if let [(_, (only, _))] = &mut pending[..] {
            only.sync()?;
        } else if batch_alone {
            let mut files: Vec<&mut LocalStaging> = pending
                .iter_mut()
                .map(|(_, (staging, _))| staging)
                .collect();
            group::sync_files(&mut files)?;
        } else {
            for (_, (staging, _)) in &pending {
                staging.settle()?;
            }
            self.sync_filesystem()?;
        }
        // A folder that gained a name (for a single object, its own); for a
        // batch synced alone, every one.
        let mut gained: Option<PathBuf> = None;
        let mut gained_all: Vec<PathBuf> = Vec::new();
        let mut created_fanout = false;
        for (i, (staging, id)) in pending {
            let fanout_name = id.fanout();
            let fanout = self.path(OBJECTS).join(&fanout_name);
            if !self.fanouts.contains(&fanout_name) {
                created_fanout |= create_dir_once(&fanout)?;
                self.fanouts.insert(fanout_name);
            }
            outcome[i] = staging.rename_to(&fanout.join(id.to_string()))?;
            match outcome[i] {
                Committed::New => {
                    if batch_alone && !gained_all.contains(&fanout) {
                        gained_all.push(fanout.clone());
                    }
                    gained = Some(fanout);
                }
                // Something else at its path (a folder) is damage, not an
                // object to trust: this says so.
                Committed::AlreadyPresent => _ = self.object_present(&id)?,
                // A local stager copies every input as it reads it.
                Committed::Changed => {}
            }
        }
        // Then the names: a rename is durable once its folder is synced.
        if batch_alone {
            if created_fanout {
                gained_all.push(self.path(OBJECTS));
            }
            group::sync_dirs(&mut gained_all)?;
        } else if single {
            if let Some(dir) = &gained {
                sync_dir(dir)?;
            }
            if created_fanout {
                sync_dir(&self.path(OBJECTS))?;
            }
        } else if created_fanout || gained.is_some() {
            self.sync_filesystem()?;
        }
        Ok(outcome)
    }

    fn record(
        &mut self,
        entries: &[Entry],
        also: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<bool>> {
        let path = self.path(MANIFEST);
        self.with_manifest_lock(|manifest| {
            manifest
                .append_new(entries)
                .with_context(|| format!("appending to {}", path.display()))
                .and_then(|appended| also().map(|()| appended))
        })
    }

    fn has_object(&self, id: &ObjectId) -> Result<bool> {
        self.object_present(id)
    }

    fn is_recorded(&mut self, entry: &Entry) -> Result<bool> {
        let manifest = self.open_manifest()?;
        let identity = entry.identity();
        // Lines are only ever added: what is known stays known, and only
        // an identity not seen yet needs a look at what came since.
        if !manifest.contains(&identity)? {
            manifest.catch_up()?;
        }
        manifest.contains(&identity)
    }

    fn holds(&mut self, entry: &Entry) -> Result<bool> {
        Ok(self.is_recorded(entry)? && self.object_listed(&entry.sha256)?)
    }

    fn config(&self) -> Result<crate::policy::StoreConfig> {
        crate::policy::StoreConfig::load(&self.config_path())
    }

    fn local_folders(&self) -> Vec<PathBuf> {
        vec![self.root.clone()]
    }

    fn catalog_path(&self) -> PathBuf {
        LocalStore::catalog_path(self)
    }

    fn records_in_batches(&self) -> bool {
        false
    }

    fn sync_batches_alone(&mut self, alone: bool) {
        self.sync_alone = alone;
    }

    fn pause_writing(&mut self) {
        self.writing = None;
    }

    fn resume_writing(&mut self) -> Result<()> {
        if self.writing.is_none() {
            self.writing = Some(self.lock_gc(self.wait_lock, Lock::Shared)?);
            // While paused, `rm` may have replaced the manifest (the file
            // held open would be the old one, unlinked: appends to it would
            // be lost) and `gc` or `rm` removed objects: all is looked at
            // again.
            self.manifest = None;
            self.listed.clear();
            self.fanouts.clear();
        }
        Ok(())
    }
}
