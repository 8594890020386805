//! A store in a local directory (layout version 1):
//!
//! ```text
//! store.json                       format, version, hash
//! objects/<2 hex>/<64 hex>         content, read-only
//! tmp/                             temp files in flight (same filesystem: rename is atomic)
//! manifest.jsonl                   one JSON object per line, append-only
//! lock                             flock(2) target for manifest appends
//! ```

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tempfile::NamedTempFile;

use super::{Backend, Committed, Staging, StoreFormat};
use crate::interrupt::{self, Tracked};
use crate::manifest::{Entry, IdentitySet, Line, Lines};
use crate::object_id::ObjectId;

const FORMAT_FILE: &str = "store.json";
const OBJECTS: &str = "objects";
const TMP: &str = "tmp";
const MANIFEST: &str = "manifest.jsonl";
const LOCK: &str = "lock";

/// A store in a directory of the local filesystem.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    manifest: Option<OpenManifest>,
}

/// The manifest, open for appending, and the identities of its lines up to
/// `indexed_to`; the rest is read under the lock before each append, so lines
/// other processes added are seen too.
#[derive(Debug)]
struct OpenManifest {
    file: File,
    lock: File,
    indexed_to: u64,
    known: IdentitySet,
}

impl LocalStore {
    /// Opens the store at `root` for writing, creating it if need be. A
    /// directory that holds other things and no `store.json` is refused, so
    /// a mistyped `--store` never scatters objects into someone's folder.
    pub fn open_or_create(root: &Path) -> Result<Self> {
        fs::create_dir_all(root)
            .with_context(|| format!("creating the store {}", root.display()))?;
        let store = LocalStore {
            root: root.to_path_buf(),
            manifest: None,
        };
        if !store.path(FORMAT_FILE).exists() {
            store.initialise()?;
        }
        store.check_format()?;
        for dir in [OBJECTS, TMP] {
            store.ensure_dir(dir)?;
        }
        Ok(store)
    }

    /// Opens an existing store for reading.
    pub fn open(root: &Path) -> Result<Self> {
        let store = LocalStore {
            root: root.to_path_buf(),
            manifest: None,
        };
        if !store.path(FORMAT_FILE).exists() {
            bail!(
                "no store at {}: nothing has been stored there yet (or --store is wrong)",
                root.display()
            );
        }
        store.check_format()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
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
        let mut entries = fs::read_dir(&self.root)
            .with_context(|| format!("reading the store {}", self.root.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty and holds no {FORMAT_FILE}: not an ingest store",
                self.root.display()
            );
        }
        let mut temp = NamedTempFile::with_prefix_in(".store.json.", &self.root)
            .with_context(|| format!("creating a file in {}", self.root.display()))?;
        let mut text = serde_json::to_vec(&StoreFormat::current())?;
        text.push(b'\n');
        temp.write_all(&text)
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
            None => OpenManifest::open(&self.path(MANIFEST), &self.path(LOCK))?,
        };
        Ok(self.manifest.insert(manifest))
    }
}

impl Backend for LocalStore {
    fn stage(&self) -> Result<Box<dyn Staging>> {
        let dir = self.path(TMP);
        let (temp, tracked) = interrupt::track(
            || {
                tempfile::Builder::new()
                    .prefix("ingest-")
                    .suffix(".tmp")
                    .tempfile_in(&dir)
            },
            |t: &NamedTempFile| t.path(),
        )
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
        Ok(Box::new(LocalStaging {
            temp,
            _tracked: tracked,
            objects: self.path(OBJECTS),
        }))
    }

    fn record(&mut self, entries: Vec<Entry>) -> Result<Vec<bool>> {
        let path = self.path(MANIFEST);
        let lock_path = self.path(LOCK);
        let manifest = self.open_manifest()?;
        manifest
            .lock
            .lock()
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let appended = manifest.append_new(&entries);
        let _ = manifest.lock.unlock();
        appended.with_context(|| format!("appending to {}", path.display()))
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
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
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        Ok(OpenManifest {
            file,
            lock,
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

    /// Cuts off a last line without its newline: a crash mid-append left it,
    /// and its object (if any) is re-recorded by the next run of the same input.
    fn repair_torn_tail(&mut self) -> io::Result<()> {
        let len = self.file.metadata()?.len();
        if len == 0 || read_byte_at(&self.file, len - 1)? == b'\n' {
            return Ok(());
        }
        let keep = last_newline_before(&self.file, len)?.map_or(0, |i| i + 1);
        self.file.set_len(keep)?;
        self.file.sync_all()?;
        self.indexed_to = self.indexed_to.min(keep);
        Ok(())
    }

    /// Learns the identities of lines appended since the last look.
    fn catch_up(&mut self) -> io::Result<()> {
        let mut reader = BufReader::with_capacity(64 * 1024, &self.file);
        reader.seek(SeekFrom::Start(self.indexed_to))?;
        let mut lines = Lines::new(reader, self.indexed_to);
        for line in lines.by_ref() {
            if let Line::Entry(entry) = line? {
                self.known.insert(entry.identity());
            }
        }
        self.indexed_to = lines.offset();
        Ok(())
    }

    /// Appends whole lines with one write and makes them durable. A write cut
    /// short (disk full) is taken back, so no torn line stays behind.
    fn append(&mut self, text: &[u8]) -> io::Result<()> {
        let before = self.indexed_to;
        let written = self
            .file
            .write_all(text)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            let _ = self.file.set_len(before);
            return Err(e);
        }
        self.indexed_to = before + text.len() as u64;
        Ok(())
    }
}

fn read_byte_at(file: &File, offset: u64) -> io::Result<u8> {
    use std::os::unix::fs::FileExt;
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset)?;
    Ok(byte[0])
}

/// The offset of the last newline before `end`, reading backwards in blocks.
fn last_newline_before(file: &File, end: u64) -> io::Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    let mut block = [0u8; 4096];
    let mut hi = end;
    while hi > 0 {
        let lo = hi.saturating_sub(block.len() as u64);
        let chunk = &mut block[..(hi - lo) as usize];
        file.read_exact_at(chunk, lo)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(Some(lo + i as u64));
        }
        hi = lo;
    }
    Ok(None)
}

struct LocalStaging {
    temp: NamedTempFile,
    _tracked: Tracked,
    objects: PathBuf,
}

impl Write for LocalStaging {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

impl Staging for LocalStaging {
    fn commit(self: Box<Self>, id: &ObjectId) -> Result<Committed> {
        let fanout = self.objects.join(id.fanout());
        let target = fanout.join(id.to_string());
        // The same content is already stored: keep that object untouched,
        // and spare the fsync of a copy that is about to be dropped.
        if target.exists() {
            return Ok(Committed::AlreadyPresent);
        }
        let LocalStaging { temp, _tracked, .. } = *self;
        let file = temp.as_file();
        file.set_permissions(Permissions::from_mode(0o444))
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", temp.path().display()))?;
        if create_dir_once(&fanout)? {
            sync_dir(fanout.parent().unwrap_or(&fanout))?;
        }
        match temp.persist_noclobber(&target) {
            Ok(_) => {
                sync_dir(&fanout)?;
                Ok(Committed::New)
            }
            // Another run stored the same content a moment ago.
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                Ok(Committed::AlreadyPresent)
            }
            Err(e) => Err(e.error).with_context(|| format!("renaming to {}", target.display())),
        }
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
