//! Reading the local store back: its lines, its objects, a hash prefix, its
//! leftovers; and quarantining a damaged object.

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::*;
use crate::manifest::Lines;
use crate::object_id::ObjectId;
use crate::store::LookupError;

/// A file found under `objects/`.
#[derive(Debug)]
pub struct ObjectFile {
    pub path: PathBuf,
    /// The id its name claims, when the name is canonical and in the right
    /// fan-out folder.
    pub id: Option<ObjectId>,
    pub size: u64,
    pub is_file: bool,
}

/// Read access, for the store tools.
impl LocalStore {
    /// The manifest's lines in order, in constant memory (none if there is
    /// no manifest yet).
    pub fn lines(&self) -> Result<Option<Lines<BufReader<File>>>> {
        let path = self.path(MANIFEST);
        match File::open(&path) {
            Ok(file) => Ok(Some(Lines::new(
                BufReader::with_capacity(64 * 1024, file),
                0,
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Every entry under `objects/`, in sorted order.
    pub fn object_files(&self) -> impl Iterator<Item = Result<ObjectFile>> + use<> {
        walkdir::WalkDir::new(self.path(OBJECTS))
            .min_depth(1)
            .sort_by_file_name()
            .into_iter()
            .filter_map(|entry| {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) => return Some(Err(anyhow::Error::from(e))),
                };
                let depth2 = entry.depth() == 2;
                if entry.file_type().is_dir() && !depth2 {
                    return None;
                }
                let meta = match entry.metadata() {
                    Ok(meta) => meta,
                    Err(e) => return Some(Err(e.into())),
                };
                let id = entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.parse::<ObjectId>().ok())
                    .filter(|id| {
                        depth2
                            && entry.path().parent().and_then(|p| p.file_name())
                                == Some(id.fanout().as_ref())
                    });
                Some(Ok(ObjectFile {
                    path: entry.into_path(),
                    id,
                    size: meta.len(),
                    is_file: meta.is_file(),
                }))
            })
    }

    /// The object a full hash or a unique prefix of at least 6 hex digits
    /// names.
    pub fn resolve(&self, prefix: &str) -> Result<ObjectId, LookupError> {
        let prefix = LookupError::checked_prefix(prefix)?;
        let fanout = self.path(OBJECTS).join(&prefix[..2]);
        let matches = fs::read_dir(&fanout)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with(&prefix) && name.parse::<ObjectId>().is_ok())
            .collect();
        LookupError::only_match(prefix, matches)
    }

    /// Moves a damaged object aside into `quarantine/`, so that ingesting
    /// the good bytes again restores it; returns where it went.
    pub fn quarantine(&self, path: &Path) -> Result<PathBuf> {
        let dir = self.path("quarantine");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let stamp = jiff::Timestamp::now().as_second();
        let target = dir.join(format!("{name}.{stamp}"));
        fs::rename(path, &target)
            .with_context(|| format!("moving {} to {}", path.display(), target.display()))?;
        sync_dir(&dir)?;
        sync_dir(path.parent().unwrap_or(&self.root))?;
        Ok(target)
    }

    /// The files in `tmp/`, with whether a running ingest holds them.
    pub fn temp_files(&self) -> Result<Vec<(PathBuf, fs::Metadata, bool)>> {
        let dir = self.path(TMP);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut found = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue; // finished and renamed since the listing
            };
            let in_use = crate::store::held::in_use(&path);
            found.push((path, meta, in_use));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }
}

impl LocalStore {
    /// See [`crate::store::StoreView::remove_entries`]. Two passes over the
    /// manifest: the first finds the entries to remove; the second writes
    /// every other line, byte for byte, into a temp file beside it, which
    /// is synced and renamed over the manifest (then the folder synced). A
    /// crash before the rename leaves the old manifest (and a temp file gc
    /// takes); after it, the new one. Objects are not touched here: the
    /// caller removes the unnamed ones once the new manifest is in place,
    /// so no kept entry ever names a missing object.
    pub fn remove_entries(
        &self,
        remove: &dyn Fn(&crate::manifest::Entry) -> bool,
        before: &mut dyn FnMut(&[crate::manifest::Entry]) -> Result<()>,
    ) -> Result<crate::store::Removed> {
        use std::collections::HashMap;
        use std::io::{BufRead, Write};

        let path = self.path(MANIFEST);
        let mut removed = crate::store::Removed::default();
        let Some(lines) = self.lines()? else {
            return Ok(removed);
        };
        // The removed objects, and whether a kept entry names each.
        let mut objects: HashMap<ObjectId, bool> = HashMap::new();
        for line in lines {
            if let crate::jsonl::Line::Value(entry) = line?
                && remove(&entry)
            {
                objects.insert(entry.sha256, false);
                removed.entries.push(entry);
            }
        }
        if removed.entries.is_empty() {
            return Ok(removed);
        }
        before(&removed.entries)?;
        let manifest = File::open(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut reader = BufReader::with_capacity(64 * 1024, manifest);
        let mut temp = tempfile::Builder::new()
            .prefix(".manifest.jsonl.")
            .tempfile_in(&self.root)
            .with_context(|| format!("writing beside {}", path.display()))?;
        let mut text = Vec::new();
        {
            let mut out = std::io::BufWriter::new(temp.as_file_mut());
            loop {
                text.clear();
                let read = reader
                    .read_until(b'\n', &mut text)
                    .with_context(|| format!("reading {}", path.display()))?;
                if read == 0 {
                    break;
                }
                // Unreadable and torn lines are kept as they are.
                if let Ok(entry) = serde_json::from_slice::<crate::manifest::Entry>(&text)
                    && text.ends_with(b"\n")
                {
                    if remove(&entry) {
                        continue;
                    }
                    if let Some(named) = objects.get_mut(&entry.sha256) {
                        *named = true;
                    }
                }
                out.write_all(&text)?;
            }
            out.flush()?;
        }
        temp.as_file()
            .sync_all()
            .context("syncing the new manifest")?;
        temp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("replacing {}", path.display()))?;
        super::sync_dir(&self.root)?;
        removed.unnamed = objects
            .into_iter()
            .filter(|(_, named)| !named)
            .map(|(id, _)| id)
            .collect();
        removed.unnamed.sort();
        self.forget_removed(&removed.entries);
        Ok(removed)
    }
}

impl LocalStore {
    /// Brings the catalog to the new manifest at once (it reads it all
    /// again, the old one having been replaced) and forgets the files cache's
    /// records of the removed entries' sources, so a later run over the same
    /// folder reads those files again. Only a speed-up if it fails: the next
    /// command does the same.
    fn forget_removed(&self, removed: &[crate::manifest::Entry]) {
        use crate::catalog::{Catalog, Part};
        let forget = || -> Result<()> {
            let mut catalog = Catalog::open(&self.catalog_path())?;
            let manifest = File::open(self.path(MANIFEST))?;
            catalog.catch_up(&manifest, Part::Identities)?;
            catalog.catch_up(&manifest, Part::Entries)?;
            catalog.forget_sources_of(removed)
        };
        if let Err(e) = forget() {
            say!("warning: the catalog is brought up to date by the next command: {e:#}");
        }
    }
}

impl LocalStore {
    /// See [`crate::store::StoreView::change_block_list`]: the file is
    /// replaced whole (when the list changed).
    pub fn change_block_list(&self, add: &[ObjectId], remove: &[ObjectId]) -> Result<Vec<String>> {
        let path = self.config_path();
        let text = match fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let shown = path.display().to_string();
        let (changed, now) =
            crate::policy::change_block_list(text.as_deref(), add, remove, &shown)?;
        let Some(changed) = changed else {
            return Ok(now);
        };
        let mut temp = tempfile::NamedTempFile::new_in(&self.root)
            .with_context(|| format!("writing beside {shown}"))?;
        std::io::Write::write_all(&mut temp, &changed)?;
        temp.as_file().sync_all()?;
        temp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("replacing {shown}"))?;
        super::sync_dir(&self.root)?;
        Ok(now)
    }
}
