//! A store in a local directory (layout version 1):
//!
//! ```text
//! store.json                       format, version, hash
//! objects/<2 hex>/<64 hex>         content, read-only
//! tmp/                             temp files in flight (same filesystem: rename is atomic)
//! manifest.jsonl                   one JSON object per line, append-only
//! lock                             flock(2) target for manifest appends
//! gc.lock                          held shared by every writer, exclusively by gc
//! ```
//!
//! The removal rule: nothing deletes an object that a manifest line or a
//! run in progress may name. A run in progress may have published objects
//! whose lines it has not appended yet, or found an object present and be
//! about to append a line naming it; so every writer holds `gc.lock`
//! shared from its opening to its end, and `gc --orphans` takes it
//! exclusively across reading the manifest and deleting. While gc holds it
//! no writer runs, and what gc read is all there is.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::NamedTempFile;

use super::StoreFormat;
use crate::jsonl;
use crate::object_id::ObjectId;

mod appends;
mod backend;

mod group;
mod locks;
mod reads;
mod staging;
mod trash;
mod view;

use super::open_lock_file;
use appends::OpenManifest;
use locks::{Lock, lock_within};
pub use reads::ObjectFile;
pub use staging::{LocalStager, LocalStaging};

const FORMAT_FILE: &str = "store.json";
const FORMAT_TEMP_PREFIX: &str = ".store.json.";
const OBJECTS: &str = "objects";
const TMP: &str = "tmp";
const MANIFEST: &str = "manifest.jsonl";
const LOCK: &str = "lock";
const GC_LOCK: &str = "gc.lock";

/// A store in a directory of the local filesystem.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    manifest: Option<OpenManifest>,
    /// Fan-out folders known to exist, so publishing does not try to create
    /// one per object.
    fanouts: HashSet<String>,
    /// How long to wait for another writer's lock.
    wait_lock: Duration,
    /// Whether this handle may write: only a store opened for writing opens
    /// its manifest for appending (a dry run must not create even `lock`).
    writable: bool,
    /// `gc.lock`, held shared while this handle writes.
    writing: Option<File>,
    /// The objects of each fan-out folder, listed once when the files
    /// cache first asks about one of them (see [`LocalStore::object_listed`]).
    listed: HashMap<String, HashSet<ObjectId>>,
    /// The catalog as the read side asks it (pages, object facts), opened
    /// at the first question.
    reading: std::sync::Mutex<view::Reading>,
    /// A batch is made durable by syncing its own files and folders side by
    /// side, not by one `syncfs`.
    sync_alone: bool,
}

impl LocalStore {
    /// Opens the store at `root` for writing, creating it if need be. A
    /// directory that holds other things and no `store.json` is refused, so
    /// a mistyped `--store` never scatters objects into someone's folder.
    pub fn open_or_create(root: &Path) -> Result<Self> {
        refuse_a_file(root)?;
        fs::create_dir_all(root)
            .with_context(|| format!("creating the store {}", root.display()))?;
        let store = LocalStore::at(root);
        if !store.path(FORMAT_FILE).exists() {
            store.initialise()?;
        }
        store.check_format()?;
        for dir in [OBJECTS, TMP] {
            store.ensure_dir(dir)?;
        }
        // An absolute root spares a getcwd for every temp file.
        let root =
            fs::canonicalize(root).with_context(|| format!("resolving {}", root.display()))?;
        Ok(LocalStore {
            root,
            writable: true,
            ..store
        })
    }

    /// Opens an existing store for reading.
    pub fn open(root: &Path) -> Result<Self> {
        refuse_a_file(root)?;
        let store = LocalStore::at(root);
        if !store.exists() {
            bail!(
                "no store at {}: nothing has been stored there yet (or --store is wrong)",
                root.display()
            );
        }
        store.check_format()?;
        Ok(store)
    }

    /// A handle on `root` that has checked nothing, for `--dry-run`: it may
    /// hold no store yet, and then every object is missing.
    pub fn at(root: &Path) -> Self {
        LocalStore {
            root: root.to_path_buf(),
            manifest: None,
            fanouts: HashSet::new(),
            wait_lock: Duration::from_secs(60),
            writable: false,
            writing: None,
            listed: HashMap::new(),
            reading: std::sync::Mutex::default(),
            sync_alone: false,
        }
    }

    /// Sets how long a writer waits for another's lock before giving up.
    pub fn with_wait_lock(mut self, wait: Duration) -> Self {
        self.wait_lock = wait;
        self
    }

    /// Whether a store has been created at this location.
    pub fn exists(&self) -> bool {
        self.path(FORMAT_FILE).exists()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's policy defaults (optional).
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The path of object `id`.
    /// The catalog, under `cache/` (derived, like the files cache in it).
    pub fn catalog_path(&self) -> PathBuf {
        self.root.join("cache").join(crate::catalog::FILE_NAME)
    }

    pub fn object_path(&self, id: &ObjectId) -> PathBuf {
        self.root
            .join(OBJECTS)
            .join(id.fanout())
            .join(id.to_string())
    }

    /// Writes `store.json` into an empty directory, atomically: of two runs
    /// creating the same store at once, one writes it and both use it.
    fn initialise(&self) -> Result<()> {
        let entries = fs::read_dir(&self.root)
            .with_context(|| format!("reading the store {}", self.root.display()))?;
        let mut foreign = false;
        for entry in entries {
            let name = entry?.file_name();
            if name == FORMAT_FILE {
                // Another run created the store since we looked.
                return Ok(());
            }
            // Another run creating the store at this moment leaves this.
            foreign |= !name
                .as_encoded_bytes()
                .starts_with(FORMAT_TEMP_PREFIX.as_bytes());
        }
        if foreign {
            bail!(
                "{} is not empty and holds no {FORMAT_FILE}: not an ingest store",
                self.root.display()
            );
        }
        let mut temp = NamedTempFile::with_prefix_in(FORMAT_TEMP_PREFIX, &self.root)
            .with_context(|| format!("creating a file in {}", self.root.display()))?;
        temp.write_all(&jsonl::to_line(&StoreFormat::current()))
            .and_then(|()| {
                temp.as_file()
                    .set_permissions(Permissions::from_mode(0o644))
            })
            .and_then(|()| temp.as_file().sync_all())
            .with_context(|| format!("writing {}", self.path(FORMAT_FILE).display()))?;
        match temp.persist_noclobber(self.path(FORMAT_FILE)) {
            Ok(_) => sync_dir(&self.root),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e.error)
                .with_context(|| format!("creating {}", self.path(FORMAT_FILE).display())),
        }
    }

    fn check_format(&self) -> Result<()> {
        let path = self.path(FORMAT_FILE);
        let text = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let format: StoreFormat = serde_json::from_slice(&text)
            .with_context(|| format!("{} is damaged: not a store description", path.display()))?;
        if let Some(why) = format.incompatibility() {
            bail!("refusing the store {}: {why}", self.root.display());
        }
        Ok(())
    }

    fn ensure_dir(&self, relative: &str) -> Result<()> {
        let path = self.path(relative);
        match fs::create_dir(&path) {
            Ok(()) => sync_dir(&self.root),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if path.is_dir() {
                    Ok(())
                } else {
                    bail!(
                        "{} is not a directory: the store is damaged",
                        path.display()
                    )
                }
            }
            Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }

    fn open_manifest(&mut self) -> Result<&mut OpenManifest> {
        let manifest = match self.manifest.take() {
            Some(open) => open,
            None if self.writable => {
                let mut open = OpenManifest::open(
                    &self.path(MANIFEST),
                    &self.path(LOCK),
                    &self.catalog_path(),
                )?;
                // Held up against the manifest now: it may have been cut
                // (a torn tail repaired) or replaced since the catalog last
                // read it, and what the catalog knows must be what it holds.
                open.catch_up()?;
                open
            }
            None => OpenManifest::open_to_read(&self.path(MANIFEST))?,
        };
        Ok(self.manifest.insert(manifest))
    }

    /// Runs `act` on the manifest under the store's lock (held only around
    /// appends and repairs), waiting at most the wait-lock time for it.
    fn with_manifest_lock<T>(
        &mut self,
        act: impl FnOnce(&mut OpenManifest) -> Result<T>,
    ) -> Result<T> {
        let lock_path = self.path(LOCK);
        let wait = self.wait_lock;
        let manifest = self.open_manifest()?;
        let lock = manifest
            .lock
            .as_ref()
            .with_context(|| format!("{} is open only for reading", lock_path.display()))?;
        lock_within(lock, wait, Lock::Exclusive)
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let done = act(manifest);
        if let Some(lock) = &manifest.lock {
            let _ = lock.unlock();
        }
        done
    }
}

impl LocalStore {
    /// Whether object `id` is stored. Something else at its path (a folder,
    /// a symlink) is damage to report, not an object to trust.
    fn object_present(&self, id: &ObjectId) -> Result<bool> {
        let path = self.object_path(id);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(true),
            Ok(_) => bail!(
                "{} is not a file: the store is damaged (see ingest verify)",
                path.display()
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("looking at {}", path.display())),
        }
    }

    /// Whether object `id` is stored, by a listing of its fan-out folder
    /// taken once per run: an unchanged nightly re-run asks about every
    /// object, and 256 listings cost far less than a stat each. A writer
    /// holds `gc.lock`, so no object it saw listed is removed meanwhile
    /// (one `verify` quarantines is stored again by the next run).
    fn object_listed(&mut self, id: &ObjectId) -> Result<bool> {
        let fanout = id.fanout();
        if !self.listed.contains_key(&fanout) {
            let dir = self.path(OBJECTS).join(&fanout);
            let mut ids = HashSet::new();
            match fs::read_dir(&dir) {
                Ok(entries) => {
                    for entry in entries {
                        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
                        if entry.file_type().is_ok_and(|t| t.is_file())
                            && let Some(id) =
                                entry.file_name().to_str().and_then(|n| n.parse().ok())
                        {
                            ids.insert(id);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
            }
            self.listed.insert(fanout.clone(), ids);
        }
        Ok(self.listed.get(&fanout).is_some_and(|ids| ids.contains(id)))
    }

    /// Flushes every dirty page and inode of the store's filesystem: one
    /// call that makes a whole batch durable.
    fn sync_filesystem(&self) -> Result<()> {
        let tmp = self.path(TMP);
        File::open(&tmp)
            .and_then(|dir| rustix::fs::syncfs(&dir).map_err(io::Error::from))
            .with_context(|| format!("syncing the filesystem of {}", tmp.display()))
    }
}

/// A store is a folder: a file at its place is a mistyped `--store`.
fn refuse_a_file(root: &Path) -> Result<()> {
    match fs::metadata(root) {
        Ok(meta) if !meta.is_dir() => bail!(
            "{} is a file, not a store: --store names the folder the store lives in (or will)",
            root.display()
        ),
        _ => Ok(()),
    }
}

/// Creates `dir` if missing; true if this call created it.
fn create_dir_once(dir: &Path) -> Result<bool> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("creating {}", dir.display())),
    }
}

/// Makes a directory's entries durable (a rename is durable only then).
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}
