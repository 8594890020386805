//! The catalog: the manifest's line identities indexed on disk (SQLite, in
//! the store's `cache/`), so a writer asks whether a line is recorded in
//! O(log n) instead of reading every line the store ever got.
//!
//! It is derived, and never outranks the manifest: it remembers how far it
//! has read (a byte offset) and the bytes just before that point, and reads
//! only what was appended since. A manifest that is shorter than that
//! offset, or whose bytes there are not the ones remembered (cut, repaired
//! by hand, replaced), is read again from the start. A catalog that cannot
//! be opened or read (deleted, damaged) is made again the same way. Each
//! catch-up is one SQLite transaction, offset and identities together, so a
//! run killed at any moment leaves the catalog as it was before, or after.

use std::fs::{self, File};
use std::io::{self, BufReader, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::jsonl;
use crate::manifest::{Identity, LineIdentity};

/// Bytes before the indexed offset that are remembered, to tell the same
/// manifest from one changed behind the catalog's back.
const TAIL: u64 = 64;

/// Identities sorted and inserted together while catching up (2 MiB).
const BATCH: usize = 1 << 17;

/// How long a writer waits for another's catch-up to commit.
const BUSY: Duration = Duration::from_secs(120);

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA cache_size = -8192;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS identities (id BLOB PRIMARY KEY) WITHOUT ROWID;
";

/// The catalog of one local store. (Behind a mutex only so that a store
/// handle may be shared between threads; one thread uses it at a time.)
pub struct Catalog {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalog")
    }
}

impl Catalog {
    /// Opens the catalog at `path`, made anew (empty, to be filled from the
    /// manifest) when it is missing or cannot be used.
    pub fn open(path: &Path) -> Result<Catalog> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        match Self::try_open(path) {
            Ok(catalog) => Ok(catalog),
            // Only a damaged file is made again; any other failure (a full
            // disk, no permission) is the caller's to work around.
            Err(e) if !is_damage(&e) => {
                Err(e).with_context(|| format!("opening {}", path.display()))
            }
            Err(e) => {
                say!(
                    "warning: the catalog {} cannot be used ({e}); making it again from the manifest",
                    path.display()
                );
                for file in files_of(path) {
                    match fs::remove_file(&file) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => {
                            return Err(e).with_context(|| format!("removing {}", file.display()));
                        }
                        _ => {}
                    }
                }
                Self::try_open(path).with_context(|| format!("making {}", path.display()))
            }
        }
    }

    fn try_open(path: &Path) -> rusqlite::Result<Catalog> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY)?;
        conn.execute_batch(SCHEMA)?;
        // A damaged file may open and fail only when read.
        conn.query_row("SELECT count(*) FROM meta", [], |row| row.get::<_, i64>(0))?;
        Ok(Catalog {
            conn: Mutex::new(conn),
        })
    }

    /// Whether a line of this identity was indexed.
    pub fn contains(&self, id: &Identity) -> Result<bool> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // One read transaction for a run's questions, until it next catches
        // up: SQLite locks and unlocks its files (four fcntl calls) for each
        // transaction, which was most of a nightly re-run's time. What it
        // does not see yet, a miss makes the caller catch up on.
        if conn.is_autocommit() {
            conn.execute_batch("BEGIN DEFERRED")
                .context("reading the catalog")?;
        }
        // Prepared once per connection: a nightly re-run asks once per file.
        let mut query = conn
            .prepare_cached("SELECT 1 FROM identities WHERE id = ?1")
            .context("reading the catalog")?;
        let found = query
            .query_row(params![id.as_bytes().as_slice()], |_| Ok(()))
            .optional()
            .context("reading the catalog")?;
        Ok(found.is_some())
    }

    /// Indexes the lines of `manifest` appended since the last catch-up (or
    /// all of them, when the manifest is not the one indexed); returns the
    /// offset of the end of its last whole line.
    pub fn catch_up(&mut self, manifest: &File) -> Result<u64> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        if !conn.is_autocommit() {
            // The read transaction of `contains` ends: what was appended
            // since it began is to be read now.
            conn.execute_batch("COMMIT")
                .context("reading the catalog")?;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("locking the catalog")?;
        let offset = read_meta(&tx, "offset")?
            .and_then(|v| <[u8; 8]>::try_from(v).ok())
            .map_or(0, u64::from_le_bytes);
        let tail = read_meta(&tx, "tail")?.unwrap_or_default();
        let len = manifest.metadata().context("reading the manifest")?.len();
        let start = match offset <= len && ends_with(manifest, offset, &tail)? {
            true => offset,
            false => {
                tx.execute("DELETE FROM identities", [])
                    .context("emptying the catalog")?;
                0
            }
        };
        if start == len && start == offset {
            tx.commit().context("committing the catalog")?;
            return Ok(offset);
        }
        let mut reader = BufReader::with_capacity(256 * 1024, manifest);
        reader.seek(SeekFrom::Start(start))?;
        let mut lines = jsonl::Lines::<_, LineIdentity>::new(reader, start);
        {
            let mut insert = tx
                .prepare_cached("INSERT OR IGNORE INTO identities (id) VALUES (?1)")
                .context("writing the catalog")?;
            // Inserted in sorted batches: a B-tree filled in key order
            // touches each page once, not once per random key (a rebuild of
            // a million lines took 5.7 s in line order).
            let mut batch: Vec<Identity> = Vec::with_capacity(BATCH);
            let mut flush = |batch: &mut Vec<Identity>| -> Result<()> {
                batch.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
                for id in batch.drain(..) {
                    insert
                        .execute(params![id.as_bytes().as_slice()])
                        .context("writing the catalog")?;
                }
                Ok(())
            };
            for line in lines.by_ref() {
                if let jsonl::Line::Value(LineIdentity(id)) = line? {
                    batch.push(id);
                    if batch.len() == BATCH {
                        flush(&mut batch)?;
                    }
                }
            }
            flush(&mut batch)?;
        }
        let end = lines.offset();
        let kept = TAIL.min(end);
        let mut tail = vec![0u8; kept as usize];
        manifest.read_exact_at(&mut tail, end - kept)?;
        write_meta(&tx, "offset", &end.to_le_bytes())?;
        write_meta(&tx, "tail", &tail)?;
        tx.commit().context("committing the catalog")?;
        Ok(end)
    }
}

/// Whether SQLite says the file is not a database, or a damaged one.
fn is_damage(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// The catalog's files: the database and SQLite's WAL and shared memory.
fn files_of(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

/// Whether the bytes of `file` just before `offset` are `tail`.
fn ends_with(file: &File, offset: u64, tail: &[u8]) -> Result<bool> {
    let len = tail.len() as u64;
    if len > offset {
        return Ok(false);
    }
    let mut found = vec![0u8; tail.len()];
    file.read_exact_at(&mut found, offset - len)
        .context("reading the manifest")?;
    Ok(found == tail)
}

fn read_meta(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
        row.get(0)
    })
    .optional()
    .context("reading the catalog")
}

fn write_meta(conn: &Connection, key: &str, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, value],
    )
    .context("writing the catalog")?;
    Ok(())
}
