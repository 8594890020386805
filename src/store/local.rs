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
use std::fs::TryLockError;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::NamedTempFile;

use super::flusher::{Background, write_back};
use super::{Backend, Committed, LookupError, Stager, StoreFormat};
use crate::interrupt::Tracked;
use crate::jsonl;
use crate::manifest::{Entry, IdentitySet, LineIdentity, Lines};
use crate::object_id::ObjectId;

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
}

/// The manifest, open for appending, and the identities of its lines up to
/// `indexed_to`; the rest is read under the lock before each append, so lines
/// other processes added are seen too.
#[derive(Debug)]
struct OpenManifest {
    file: File,
    /// None when the manifest is open only for reading.
    lock: Option<File>,
    indexed_to: u64,
    known: IdentitySet,
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

    /// Starts writing: holds `gc.lock` shared until this handle is dropped,
    /// so no `gc` removes what this run publishes or finds present (see the
    /// module documentation), and repairs a torn last manifest line, so
    /// that a crash's damage is mended by the next run that can write,
    /// whether or not it appends anything.
    pub fn begin_writing(&mut self) -> Result<()> {
        self.writing = Some(self.lock_gc(self.wait_lock, Lock::Shared)?);
        // Looked at first without writing: a store this user may not write
        // then fails where the run writes, not here.
        let manifest = self.path(MANIFEST);
        match File::open(&manifest).and_then(|f| jsonl::has_torn_tail(&f)) {
            Ok(false) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            _ => {
                self.with_manifest_lock(|manifest| manifest.repair_torn_tail().map_err(Into::into))
            }
        }
    }

    /// Holds `gc.lock` exclusively: no writer runs until the guard is
    /// dropped, and none is running now. Waits at most the wait-lock time.
    pub fn exclude_writers(&self, wait: Duration) -> Result<File> {
        self.lock_gc(wait, Lock::Exclusive)
    }

    /// Takes `gc.lock` as asked, within `wait`; the error says who holds it.
    fn lock_gc(&self, wait: Duration, how: Lock) -> Result<File> {
        let path = self.path(GC_LOCK);
        let lock = open_lock_file(&path)?;
        let holder = match how {
            Lock::Shared => " (an ingest gc is removing objects)",
            Lock::Exclusive => {
                ": another ingest is writing to the store, and orphans can only be told apart from its objects once it ends"
            }
        };
        lock_within(&lock, wait, how)
            .with_context(|| format!("locking {}{holder}", path.display()))?;
        Ok(lock)
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
            None if self.writable => OpenManifest::open(&self.path(MANIFEST), &self.path(LOCK))?,
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

/// Stages objects in the store's `tmp/`, on the same filesystem as
/// `objects/`, so that publishing is a rename.
#[derive(Debug, Clone)]
pub struct LocalStager {
    tmp: PathBuf,
}

impl Stager for LocalStager {
    type Staged = LocalStaging;

    fn stage(&self) -> Result<LocalStaging> {
        // Read-only from the start (the descriptor still writes): objects
        // are never changed, and no chmod per object. Held (locked) until
        // it is renamed or removed: `gc` leaves it alone meanwhile.
        let (temp, tracked) = super::held::create(&self.tmp, |dir| {
            tempfile::Builder::new()
                .prefix("ingest-")
                .suffix(".tmp")
                .permissions(Permissions::from_mode(0o444))
                .tempfile_in(dir)
        })
        .with_context(|| format!("creating a temp file in {}", self.tmp.display()))?;
        Ok(LocalStaging {
            temp,
            _tracked: tracked,
            written: 0,
            writeback_to: 0,
            flushing: None,
        })
    }

    fn make_durable(&self, staged: &mut LocalStaging) -> Result<()> {
        staged.sync()
    }
}

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
        if let [(_, (only, _))] = &mut pending[..] {
            only.sync()?;
        } else {
            for (_, (staging, _)) in &pending {
                staging.settle()?;
            }
            self.sync_filesystem()?;
        }
        // A folder that gained a name (for a single object, its own).
        let mut gained: Option<PathBuf> = None;
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
                Committed::New => gained = Some(fanout),
                // Something else at its path (a folder) is damage, not an
                // object to trust: this says so.
                Committed::AlreadyPresent => _ = self.object_present(&id)?,
            }
        }
        // Then the names: a rename is durable once its folder is synced.
        if single {
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
        if !manifest.known.contains(&identity) {
            manifest.catch_up()?;
        }
        Ok(manifest.known.contains(&identity))
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

    fn files_cache_path(&self) -> PathBuf {
        self.root.join("cache").join("files-v1.jsonl")
    }

    fn records_in_batches(&self) -> bool {
        false
    }

    fn pause_writing(&mut self) {
        self.writing = None;
    }

    fn resume_writing(&mut self) -> Result<()> {
        if self.writing.is_none() {
            self.writing = Some(self.lock_gc(self.wait_lock, Lock::Shared)?);
        }
        Ok(())
    }
}

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
            let in_use = super::held::in_use(&path);
            found.push((path, meta, in_use));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
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

/// How a lock file is held.
#[derive(Debug, Clone, Copy)]
enum Lock {
    Shared,
    Exclusive,
}

/// Takes the lock, waiting at most `wait` for another process to let go.
fn lock_within(lock: &File, wait: Duration, how: Lock) -> Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let tried = match how {
            Lock::Shared => lock.try_lock_shared(),
            Lock::Exclusive => lock.try_lock(),
        };
        match tried {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => bail!(
                "gave up after {:.1} s waiting for another ingest to release it (--wait-lock)",
                wait.as_secs_f64()
            ),
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
    }
}

impl OpenManifest {
    fn open(path: &Path, lock_path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(OpenManifest {
            file,
            lock: Some(open_lock_file(lock_path)?),
            indexed_to: 0,
            known: IdentitySet::default(),
        })
    }

    /// The manifest for reading only (a dry run); an empty one when there
    /// is none yet.
    fn open_to_read(path: &Path) -> Result<Self> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                File::open("/dev/null").context("opening /dev/null")?
            }
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        Ok(OpenManifest {
            file,
            lock: None,
            indexed_to: 0,
            known: IdentitySet::default(),
        })
    }

    /// Under the lock: repairs, catches up, and appends the entries whose
    /// identity is new.
    fn append_new(&mut self, entries: &[Entry]) -> io::Result<Vec<bool>> {
        self.repair_torn_tail()?;
        self.catch_up()?;
        let mut text = Vec::new();
        let mut fresh = Vec::new();
        let appended = entries
            .iter()
            .map(|entry| {
                let id = entry.identity();
                let new = !self.known.contains(&id) && !fresh.contains(&id);
                if new {
                    text.extend_from_slice(&entry.to_line());
                    fresh.push(id);
                }
                new
            })
            .collect();
        if !text.is_empty() {
            self.append(&text)?;
            // Known only once durable: a failed append must not hide a retry.
            for id in fresh {
                self.known.insert(id);
            }
        }
        Ok(appended)
    }

    /// Mends a last line without its newline (a crash mid-append left it):
    /// completed if it is a whole line, else cut off, and then its object
    /// is an orphan that the next run of the same input records again.
    fn repair_torn_tail(&mut self) -> io::Result<()> {
        let len = jsonl::repair_torn_tail(&self.file)?;
        self.indexed_to = self.indexed_to.min(len);
        Ok(())
    }

    /// Learns the identities of lines appended since the last look.
    fn catch_up(&mut self) -> io::Result<()> {
        let mut reader = BufReader::with_capacity(64 * 1024, &self.file);
        reader.seek(SeekFrom::Start(self.indexed_to))?;
        let mut lines = jsonl::Lines::<_, LineIdentity>::new(reader, self.indexed_to);
        for line in lines.by_ref() {
            if let jsonl::Line::Value(LineIdentity(identity)) = line? {
                self.known.insert(identity);
            }
        }
        self.indexed_to = lines.offset();
        Ok(())
    }

    fn append(&mut self, text: &[u8]) -> io::Result<()> {
        self.indexed_to = jsonl::append_durably(&self.file, self.indexed_to, text)?;
        Ok(())
    }
}

/// An object being written: a temp file in `tmp/`, removed if dropped.
pub struct LocalStaging {
    temp: NamedTempFile,
    _tracked: Tracked,
    /// Bytes written so far, and how far write-back has been started.
    written: u64,
    writeback_to: u64,
    /// Syncs in the background, once the object is past one window (and
    /// the process has a syncing thread).
    flushing: Option<Background>,
}

/// Write-back is started, and a background sync asked for, every this many
/// bytes, so the disk works while the rest is still read and hashed, and
/// the closing fsync has little left.
const WRITEBACK_WINDOW: u64 = 4 << 20;

impl Write for LocalStaging {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.temp.write(buf)?;
        self.written += n as u64;
        while self.written - self.writeback_to >= WRITEBACK_WINDOW {
            let start = self.writeback_to;
            // A hint: an error here is still the fsync's to report.
            let _ = write_back(self.temp.as_file(), start, WRITEBACK_WINDOW, false);
            // Wait for the window before last: dirty pages stay bounded and
            // the writer runs at the disk's pace, not ahead of it.
            if let Some(older) = start.checked_sub(2 * WRITEBACK_WINDOW) {
                write_back(self.temp.as_file(), older, WRITEBACK_WINDOW, true)?;
            }
            self.writeback_to += WRITEBACK_WINDOW;
            if self.flushing.is_none() {
                self.flushing = Background::of(self.temp.as_file());
            }
            if let Some(flushing) = &self.flushing {
                flushing.request();
            }
        }
        Ok(n)
    }

    /// The input has ended: start writing back what is left, so the sync
    /// at publish finds the disk already at work on it (for a batch of
    /// small files, while the next ones stream).
    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()?;
        if self.written > self.writeback_to {
            let start = self.writeback_to;
            let _ = write_back(self.temp.as_file(), start, self.written - start, false);
            self.writeback_to = self.written;
        }
        Ok(())
    }
}

impl LocalStaging {
    /// Makes the bytes durable: what the background syncs left, and any
    /// error they met.
    fn sync(&mut self) -> Result<()> {
        self.settle()?;
        self.temp
            .as_file()
            .sync_all()
            .with_context(|| format!("syncing {}", self.temp.path().display()))
    }

    /// Ends the background syncs, returning the error of one that failed.
    fn settle(&self) -> Result<()> {
        match &self.flushing {
            Some(flushing) => flushing
                .settle()
                .with_context(|| format!("syncing {}", self.temp.path().display())),
            None => Ok(()),
        }
    }

    /// Renames the (durable) temp file to `target` unless that exists.
    fn rename_to(self, target: &Path) -> Result<Committed> {
        let LocalStaging { temp, _tracked, .. } = self;
        let renamed = |temp: NamedTempFile| match temp.persist_noclobber(target) {
            Ok(_) => Ok(Committed::New),
            // Another run stored the same content a moment ago.
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                Ok(Committed::AlreadyPresent)
            }
            Err(e) => Err(e),
        };
        match renamed(temp) {
            // Its folder was removed under this long-running writer (which
            // remembers the folders it made): made again, and synced into
            // its parent before the rename is counted on.
            Err(e) if e.error.kind() == io::ErrorKind::NotFound => {
                let folder = target.parent().unwrap_or(target);
                fs::create_dir_all(folder)
                    .with_context(|| format!("creating {}", folder.display()))?;
                sync_dir(folder.parent().unwrap_or(folder))?;
                renamed(e.file)
            }
            other => other,
        }
        .map_err(|e| anyhow::Error::new(e.error))
        .with_context(|| format!("renaming to {}", target.display()))
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

/// Opens (creating) a file that is only ever locked, never written: for
/// reading when it exists, since flock needs no more, and a store the user
/// may not write then fails where the writing does.
fn open_lock_file(path: &Path) -> Result<File> {
    match File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path),
        opened => opened,
    }
    .with_context(|| format!("opening {}", path.display()))
}

/// Makes a directory's entries durable (a rename is durable only then).
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}
