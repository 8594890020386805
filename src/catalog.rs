//! The catalog: the manifest indexed on disk (SQLite, in the store's
//! `cache/`), so a command asks about the entries it needs in O(log n)
//! instead of reading every line the store ever got.
//!
//! It has two parts, each caught up with the manifest on its own, so that
//! a command pays only for the part it asks: the line identities, which
//! every writer keeps (is this line recorded?), and the entries, which
//! whoever reads them keeps (the server's pages, an object's type and first
//! date): each line's number, place in the manifest, kind, month and
//! object, with its name in a trigram index for name search. Beside them
//! it keeps the files cache's records (see `cache.rs`), one per path.
//!
//! It is derived, and never outranks the manifest: each part remembers how
//! far it has read (a byte offset) and the bytes just before that point,
//! and reads only what was appended since. A manifest that is shorter than
//! that offset, or whose bytes there are not the ones remembered (cut,
//! repaired by hand, replaced), is read again from the start. A catalog
//! that cannot be opened or read (deleted, damaged, of an older schema) is
//! made again the same way. Catching up goes in transactions of at most
//! [`BATCH`] lines, each holding its lines and the offset after them, so a
//! run killed at any moment leaves each part as it was after some whole
//! transaction, and another writer never waits long for the lock.

use std::fs::{self, File};
use std::io::{self, BufReader, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::jsonl;
use crate::manifest::{Entry, Identity, LineIdentity};
use crate::media_type::Kind;
use crate::object_id::ObjectId;

/// What a page of entries narrows by, newest first: the parts a catalog
/// answers from its indexes. A store may give more than these admit (one
/// without a catalog gives every entry); the caller checks each entry
/// against its whole filter.
#[derive(Debug, Clone, Default)]
pub struct EntryQuery {
    /// Only lines before this line number.
    pub before: Option<u64>,
    pub kind: Option<Kind>,
    /// `yyyymm` bounds, both included.
    pub months: Option<(u32, u32)>,
    /// Part of the name, any case.
    pub name_part: Option<String>,
    /// A type (`image/png`) or a family of them (`image/*`), lower-case.
    pub mime: Option<String>,
}

/// What the manifest says of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFacts {
    /// The type of the first entry that names it.
    pub mime: String,
    /// The earliest date an entry names it with.
    pub since: Option<String>,
}

/// `yyyymm` of an RFC 3339 date (`2026-11-05T…` is 202611); 0 when it is
/// not one.
pub fn month_of(at: &str) -> u32 {
    let year = at.get(0..4).and_then(|y| y.parse::<u32>().ok());
    let month = at
        .get(5..7)
        .filter(|_| at.as_bytes().get(4) == Some(&b'-'))
        .and_then(|m| m.parse::<u32>().ok());
    match (year, month) {
        (Some(year), Some(month)) if (1..=12).contains(&month) => year * 100 + month,
        _ => 0,
    }
}

/// What the manifest says of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedObject {
    pub id: ObjectId,
    /// The smallest size a line gives it, and the largest (lines that
    /// disagree are a problem `verify` reports).
    pub size: u64,
    pub largest: u64,
    /// The number of the first line that names it, from 0.
    pub first_line: u64,
}

/// Bytes before the indexed offset that are remembered, to tell the same
/// manifest from one changed behind the catalog's back.
const TAIL: u64 = 64;

/// Lines read in one transaction (and, for identities, sorted and inserted
/// together: a B-tree filled in key order touches each page once).
const BATCH: usize = 1 << 17;

/// How long a writer waits for another's transaction to commit.
const BUSY: Duration = Duration::from_secs(120);

/// The catalog's file name, in a store's `cache/` (and an S3 store's local
/// cache).
pub const FILE_NAME: &str = "catalog-v1.sqlite";

/// The schema's version (`PRAGMA user_version`): a catalog of another one
/// is made again.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS identities (id BLOB PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS files (path BLOB PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS entries (
        line INTEGER PRIMARY KEY,   -- the line's number in the manifest, from 0
        offset INTEGER NOT NULL,    -- where its bytes start
        len INTEGER NOT NULL,       -- and how many, newline included
        sha BLOB NOT NULL,
        mime TEXT NOT NULL,
        size INTEGER NOT NULL,
        at TEXT NOT NULL,           -- ingested_at
        kind INTEGER NOT NULL,      -- media_type::Kind
        month INTEGER NOT NULL      -- yyyymm of ingested_at, 0 if it has none
    );
    CREATE VIRTUAL TABLE IF NOT EXISTS names USING fts5 (
        name, tokenize = 'trigram', content = '', detail = 'none'
    );
";

/// The entries' indexes: dropped while a large part of the manifest is
/// read (SQLite makes an index from sorted rows several times faster than
/// it keeps one up to date row by row), and made again after.
const ENTRY_INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS entries_by_kind ON entries (kind, line);
    CREATE INDEX IF NOT EXISTS entries_by_month ON entries (month, line);
    CREATE INDEX IF NOT EXISTS entries_by_sha ON entries (sha, line, mime, size);
";

const DROP_ENTRY_INDEXES: &str = "
    DROP INDEX IF EXISTS entries_by_kind;
    DROP INDEX IF EXISTS entries_by_month;
    DROP INDEX IF EXISTS entries_by_sha;
";

/// Manifest bytes past which a catch-up of the entries drops their
/// indexes and makes them again at its end, when there are also more of
/// them than were read before (a rebuild, not a night's lines in a large
/// store, whose indexes would cost more to make again than to update).
const BULK: u64 = 4 << 20;

/// SQLite's page cache (KiB) while a large part of the manifest is read,
/// and otherwise.
const BULK_CACHE_KIB: i64 = 16 << 10;
const CACHE_KIB: i64 = 8 << 10;

/// A part of the catalog, caught up on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Line identities: whether a line is recorded (every writer).
    Identities,
    /// Entries: pages, filters and object facts (readers that ask).
    Entries,
}

impl Part {
    fn key(self, what: &str) -> String {
        match self {
            Part::Identities => format!("identities.{what}"),
            Part::Entries => format!("entries.{what}"),
        }
    }

    fn clear(self, tx: &Transaction) -> rusqlite::Result<()> {
        match self {
            Part::Identities => tx.execute_batch("DELETE FROM identities"),
            Part::Entries => tx.execute_batch(
                "DELETE FROM entries; INSERT INTO names (names) VALUES ('delete-all');",
            ),
        }
    }
}

/// How far a part has read the manifest.
struct Mark {
    offset: u64,
    /// Lines read (the next line's number).
    lines: u64,
    tail: Vec<u8>,
}

/// The catalog of one store. (Behind a mutex only so that a store handle
/// may be shared between threads; one thread uses it at a time.)
pub struct Catalog {
    conn: Mutex<Connection>,
    /// Whether the entries' indexes are known to exist (a catch-up killed
    /// while they were dropped leaves them missing).
    indexed: bool,
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
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY)?;
        // Turning a new file to WAL takes a lock the busy handler does not
        // wait for: several runs opening a new catalog at once retry.
        let mut tries = 0;
        loop {
            match conn.execute_batch("PRAGMA journal_mode = WAL;") {
                Err(e) if is_busy(&e) && tries < 200 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                done => break done?,
            }
        }
        // What a removal deletes is overwritten, not left in free pages.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON;")?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        // A damaged file may open and fail only when read.
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version != SCHEMA_VERSION {
            // An older schema (or a new file): everything is made again,
            // under the write lock, by the first run to take it (the others
            // find it made when they get the lock in turn).
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            if version != SCHEMA_VERSION {
                tx.execute_batch(
                    "DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS identities;
                     DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS names;
                     DROP TABLE IF EXISTS files;",
                )?;
                tx.execute_batch(SCHEMA)?;
                tx.execute_batch(ENTRY_INDEXES)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            }
            tx.commit()?;
        }
        conn.query_row("SELECT count(*) FROM meta", [], |row| row.get::<_, i64>(0))?;
        Ok(Catalog {
            conn: Mutex::new(conn),
            indexed: false,
        })
    }

    /// Opens the catalog at `path` without changing it (a dry run): None
    /// when there is none, or none of this schema. Opened as immutable, so
    /// SQLite makes no WAL or shared-memory file beside it; what a writer
    /// running at the same moment has not yet checkpointed is not seen,
    /// which costs a dry run only files read that need not be.
    pub fn open_to_read(path: &Path) -> Option<Catalog> {
        use std::os::unix::ffi::OsStrExt;
        if !path.is_file() {
            return None;
        }
        let mut uri = String::from("file:");
        for &byte in path.as_os_str().as_bytes() {
            match byte {
                b'/' | b'-' | b'_' | b'.' | b'~' => uri.push(byte as char),
                _ if byte.is_ascii_alphanumeric() => uri.push(byte as char),
                _ => uri.push_str(&format!("%{byte:02X}")),
            }
        }
        uri.push_str("?immutable=1");
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(uri, flags).ok()?;
        conn.busy_timeout(BUSY).ok()?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .ok()?;
        (version == SCHEMA_VERSION).then(|| Catalog {
            conn: Mutex::new(conn),
            indexed: true,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a line of this identity was indexed.
    pub fn contains(&self, id: &Identity) -> Result<bool> {
        let conn = self.conn();
        // One read transaction for a run's questions, until it next catches
        // up: SQLite locks and unlocks its files (four fcntl calls) for each
        // transaction, which was most of a nightly re-run's time. What it
        // does not see yet, a miss makes the caller catch up on.
        keep_reading(&conn)?;
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

    /// Indexes into `part` the lines of `manifest` appended since it last
    /// caught up (or all of them, when the manifest is not the one
    /// indexed); returns the offset of the end of its last whole line.
    pub fn catch_up(&mut self, manifest: &File, part: Part) -> Result<u64> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        // The read transaction of `contains` ends: what was appended since
        // it began is to be read now.
        end_reading(conn)?;
        let len = manifest.metadata().context("reading the manifest")?.len();
        if part == Part::Entries && !self.indexed {
            conn.execute_batch(ENTRY_INDEXES)
                .context("indexing the catalog")?;
            self.indexed = true;
        }
        // Nothing new (the common case) costs a read, not the write lock.
        let mark = read_mark(conn, part)?;
        if mark.offset == len && ends_with(manifest, mark.offset, &mark.tail)? {
            return Ok(len);
        }
        let started = Instant::now();
        let first = mark.lines;
        let mut told = false;
        let mut bulk = false;
        let end = loop {
            let tx = begin_writing(conn)?;
            let mut mark = read_mark(&tx, part)?;
            if mark.offset > len || !ends_with(manifest, mark.offset, &mark.tail)? {
                part.clear(&tx).context("emptying the catalog")?;
                mark = Mark {
                    offset: 0,
                    lines: 0,
                    tail: Vec::new(),
                };
            }
            let new = len - mark.offset;
            if part == Part::Entries && !bulk && new > BULK && new > mark.offset {
                bulk = true;
                tx.execute_batch(DROP_ENTRY_INDEXES)
                    .context("writing the catalog")?;
                tx.pragma_update(None, "cache_size", -BULK_CACHE_KIB)
                    .context("writing the catalog")?;
            }
            let start = mark.offset;
            let more = match part {
                Part::Identities if mark.offset == 0 && len > BULK => {
                    if len > 64 << 20 {
                        told = true;
                        say!("indexing the manifest into the catalog ({} MB)", len >> 20);
                    }
                    tx.pragma_update(None, "cache_size", -BULK_CACHE_KIB)
                        .context("writing the catalog")?;
                    bulk = true;
                    index_all_identities(&tx, manifest, &mut mark)?
                }
                Part::Identities => index_identities(&tx, manifest, &mut mark)?,
                Part::Entries => index_entries(&tx, manifest, &mut mark)?,
            };
            write_mark(&tx, part, &mark, manifest)?;
            tx.commit().context("committing the catalog")?;
            if !more {
                break mark;
            }
            // A rebuild of millions of lines takes a while: say so once.
            if !told && started.elapsed() > Duration::from_secs(1) {
                told = true;
                say!(
                    "indexing the manifest into the catalog ({} of {} MB read)",
                    mark.offset >> 20,
                    len >> 20
                );
            }
            debug_assert!(mark.offset > start);
        };
        if bulk {
            if part == Part::Entries {
                conn.execute_batch(ENTRY_INDEXES)
                    .context("indexing the catalog")?;
            }
            conn.pragma_update(None, "cache_size", -CACHE_KIB)
                .context("writing the catalog")?;
            conn.execute_batch("PRAGMA shrink_memory")
                .context("writing the catalog")?;
        }
        if told {
            let lines = end.lines.saturating_sub(first);
            let seconds = started.elapsed().as_secs_f64();
            say!(
                "indexed {lines} lines in {seconds:.1} s ({:.0} lines/s)",
                lines as f64 / seconds.max(0.001)
            );
        }
        Ok(end.offset)
    }

    /// The entries that `query`'s indexed parts admit, newest first, as
    /// (line number, offset, length) of their lines; the caller reads each
    /// line and checks the rest of its filter. `visit` returns false to
    /// stop.
    pub fn newest(
        &self,
        query: &EntryQuery,
        visit: &mut dyn FnMut(u64, u64, u64) -> Result<bool>,
    ) -> Result<()> {
        let conn = self.conn();
        let mut conditions = vec!["e.line < ?1".to_owned()];
        let mut values: Vec<rusqlite::types::Value> = vec![
            i64::try_from(query.before.unwrap_or(i64::MAX as u64))
                .unwrap_or(i64::MAX)
                .into(),
        ];
        let mut bind = |condition: &str, value: rusqlite::types::Value| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("?{}", values.len())));
        };
        if let Some(kind) = query.kind {
            bind("e.kind = ?", i64::from(kind as u8).into());
        }
        if let Some((first, last)) = query.months {
            if first == last {
                bind("e.month = ?", i64::from(first).into());
            } else {
                bind("e.month >= ?", i64::from(first).into());
                bind("e.month <= ?", i64::from(last).into());
            }
        }
        match query.mime.as_deref().map(|m| (m, m.strip_suffix("/*"))) {
            None | Some((_, Some("*"))) => {}
            // A superset is enough (`_` matches any character): the caller
            // checks each entry.
            Some((_, Some(top))) => bind("e.mime LIKE ?", format!("{top}/%").into()),
            Some((exact, None)) => bind("lower(e.mime) = ?", exact.to_owned().into()),
        }
        let search = query.name_part.as_deref().and_then(trigram_query);
        let (from, order) = match search {
            Some(search) => {
                bind("names MATCH ?", search.into());
                (
                    "names JOIN entries e ON e.line = names.rowid",
                    "names.rowid",
                )
            }
            None => ("entries e", "e.line"),
        };
        let sql = format!(
            "SELECT e.line, e.offset, e.len FROM {from} WHERE {} ORDER BY {order} DESC",
            conditions.join(" AND ")
        );
        let mut statement = conn.prepare_cached(&sql).context("reading the catalog")?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(values))
            .context("reading the catalog")?;
        while let Some(row) = rows.next().context("reading the catalog")? {
            let (line, offset, len): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            if !visit(line as u64, offset as u64, len as u64)? {
                break;
            }
        }
        Ok(())
    }

    /// The newest entries of `manifest` (the file this catalog indexes)
    /// that `query` admits and `fits` accepts, at most `limit`, newest
    /// first, each read from its place in the manifest.
    pub fn newest_entries(
        &self,
        manifest: &File,
        query: &EntryQuery,
        fits: &dyn Fn(&Entry) -> bool,
        limit: usize,
    ) -> Result<Vec<(u64, Entry)>> {
        let mut page = Vec::new();
        let mut text = Vec::new();
        self.newest(query, &mut |line, offset, len| {
            text.resize(len as usize, 0);
            manifest
                .read_exact_at(&mut text, offset)
                .context("reading the manifest")?;
            // The catalog said this line was an entry: one that no longer
            // parses was changed behind it, and is not shown.
            if let Ok(entry) = serde_json::from_slice::<Entry>(&text)
                && fits(&entry)
            {
                page.push((line, entry));
            }
            Ok(page.len() < limit)
        })?;
        Ok(page)
    }

    /// Every entry's type and size, object by object (in the order of
    /// their hashes), each object's entries in manifest order: one pass
    /// over an index, whatever the store's size, for what `stats` counts.
    /// `visit` gets (type, size, whether it is the first to name its
    /// object).
    pub fn by_object(&self, visit: &mut dyn FnMut(&str, u64, bool)) -> Result<()> {
        let conn = self.conn();
        let mut query = conn
            .prepare_cached("SELECT sha, mime, size FROM entries ORDER BY sha, line")
            .context("reading the catalog")?;
        let mut rows = query.query([]).context("reading the catalog")?;
        let mut last: Vec<u8> = Vec::new();
        while let Some(row) = rows.next().context("reading the catalog")? {
            let sha = row.get_ref(0)?.as_blob().unwrap_or_default();
            let first = sha != last.as_slice();
            if first {
                last.clear();
                last.extend_from_slice(sha);
            }
            let mime = row.get_ref(1)?.as_str().unwrap_or_default();
            let size: i64 = row.get(2)?;
            visit(mime, u64::try_from(size).unwrap_or(0), first);
        }
        Ok(())
    }

    /// At most `limit` of the objects the entries name, in the order of
    /// their ids, from the first after `after`.
    pub fn named_after(&self, after: Option<&ObjectId>, limit: usize) -> Result<Vec<NamedObject>> {
        let conn = self.conn();
        let mut query = conn
            .prepare_cached(
                "SELECT sha, min(size), max(size), min(line) FROM entries
                 WHERE sha > ?1 GROUP BY sha ORDER BY sha LIMIT ?2",
            )
            .context("reading the catalog")?;
        let after: &[u8] = after.map_or(&[], |id| id.as_bytes().as_slice());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query
            .query_map(params![after, limit], |row| {
                let sha: Vec<u8> = row.get(0)?;
                let (size, largest, line): (i64, i64, i64) =
                    (row.get(1)?, row.get(2)?, row.get(3)?);
                Ok((sha, size, largest, line))
            })
            .context("reading the catalog")?;
        let mut named = Vec::new();
        for row in rows {
            let (sha, size, largest, line) = row.context("reading the catalog")?;
            let Ok(bytes) = <[u8; 32]>::try_from(sha.as_slice()) else {
                continue;
            };
            named.push(NamedObject {
                id: ObjectId::from_bytes(bytes),
                size: size as u64,
                largest: largest as u64,
                first_line: line as u64,
            });
        }
        Ok(named)
    }

    /// The type of the first entry naming `id`, and the earliest date any
    /// entry names it with.
    pub fn facts(&self, id: &ObjectId) -> Result<Option<ObjectFacts>> {
        let conn = self.conn();
        let mut query = conn
            .prepare_cached(
                "SELECT (SELECT mime FROM entries WHERE sha = ?1 ORDER BY line LIMIT 1),
                        (SELECT min(at) FROM entries WHERE sha = ?1)",
            )
            .context("reading the catalog")?;
        let (mime, since): (Option<String>, Option<String>) = query
            .query_row(params![id.as_bytes().as_slice()], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .context("reading the catalog")?;
        Ok(mime.map(|mime| ObjectFacts {
            mime,
            since: since.filter(|at| !at.is_empty()),
        }))
    }
}

/// The files cache's part: records by path, opaque to the catalog.
impl Catalog {
    /// The record kept for `path`.
    pub fn file_record(&self, path: &[u8]) -> Result<Option<Vec<u8>>> {
        let conn = self.conn();
        // One read transaction for a walk's questions, as for identities.
        keep_reading(&conn)?;
        let mut query = conn
            .prepare_cached("SELECT record FROM files WHERE path = ?1")
            .context("reading the catalog")?;
        query
            .query_row(params![path], |row| row.get(0))
            .optional()
            .context("reading the catalog")
    }

    /// The paths of the records below the folder `dir` (which ends in
    /// `/`), in order: a range of the table's key, so a walk's question
    /// costs what its folder holds.
    pub fn file_paths_under(&self, dir: &[u8]) -> Result<Vec<Vec<u8>>> {
        let Some((b'/', parent)) = dir.split_last() else {
            anyhow::bail!("not a folder: {}", String::from_utf8_lossy(dir));
        };
        // Every path starting with "dir/" sorts before "dir0" ('0' follows '/').
        let end = [parent, b"0"].concat();
        let conn = self.conn();
        keep_reading(&conn)?;
        let mut query = conn
            .prepare_cached("SELECT path FROM files WHERE path >= ?1 AND path < ?2")
            .context("reading the catalog")?;
        let paths = query
            .query_map(params![dir, end], |row| row.get(0))
            .context("reading the catalog")?;
        paths
            .collect::<rusqlite::Result<_>>()
            .context("reading the catalog")
    }

    /// Forgets the records of `paths` (their files are read again next
    /// time).
    pub fn forget_files(&mut self, paths: &[Vec<u8>]) -> Result<()> {
        self.write_each("DELETE FROM files WHERE path = ?1", |statement| {
            for path in paths {
                statement.execute(params![path])?;
            }
            Ok(())
        })
    }

    /// Forgets the records of the files `removed` entries came from (a
    /// later run over their folder reads them again).
    pub fn forget_sources_of(&mut self, removed: &[crate::manifest::Entry]) -> Result<()> {
        let sources: Vec<Vec<u8>> = removed
            .iter()
            .map(|entry| std::os::unix::ffi::OsStringExt::into_vec(entry.source_bytes()))
            .collect();
        self.forget_files(&sources)
    }

    /// Keeps `records` (path, record), each replacing the one before it.
    pub fn put_file_records(&mut self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
        let sql = "INSERT OR REPLACE INTO files (path, record) VALUES (?1, ?2)";
        self.write_each(sql, |statement| {
            for (path, record) in records {
                statement.execute(params![path, record])?;
            }
            Ok(())
        })
    }

    /// Runs the statement `sql` as `run` asks, in one write transaction.
    fn write_each(
        &mut self,
        sql: &str,
        run: impl FnOnce(&mut rusqlite::CachedStatement) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let tx = begin_writing(conn)?;
        {
            let mut statement = tx.prepare_cached(sql).context("writing the catalog")?;
            run(&mut statement).context("writing the catalog")?;
        }
        tx.commit().context("committing the catalog")
    }
}

/// Reads up to [`BATCH`] lines after `mark` into the identities; true when
/// more may follow.
fn index_identities(tx: &Transaction, manifest: &File, mark: &mut Mark) -> Result<bool> {
    let mut lines = lines_from::<LineIdentity>(manifest, mark.offset)?;
    let mut batch: Vec<Identity> = Vec::with_capacity(BATCH);
    let mut read = 0;
    while read < BATCH {
        let Some(line) = lines.next() else { break };
        if let jsonl::Line::Value(LineIdentity(id)) = line? {
            batch.push(id);
        }
        read += 1;
    }
    batch.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut insert = tx
        .prepare_cached("INSERT OR IGNORE INTO identities (id) VALUES (?1)")
        .context("writing the catalog")?;
    for id in batch {
        insert
            .execute(params![id.as_bytes().as_slice()])
            .context("writing the catalog")?;
    }
    mark.lines += read as u64;
    mark.offset = lines.offset();
    Ok(read == BATCH)
}

/// Reads every line of the manifest into the empty identities in one
/// transaction: into a table of their own first, then into the index in
/// key order, which SQLite sorts on disk in bounded memory (a B-tree far
/// larger than the page cache, filled in random order, reads and writes a
/// page for nearly every line). Returns false: nothing more to read.
fn index_all_identities(tx: &Transaction, manifest: &File, mark: &mut Mark) -> Result<bool> {
    tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS bulk (id BLOB NOT NULL); DELETE FROM bulk;")
        .context("writing the catalog")?;
    let mut lines = lines_from::<LineIdentity>(manifest, mark.offset)?;
    {
        let mut insert = tx
            .prepare_cached("INSERT INTO bulk (id) VALUES (?1)")
            .context("writing the catalog")?;
        for line in lines.by_ref() {
            if let jsonl::Line::Value(LineIdentity(id)) = line? {
                insert
                    .execute(params![id.as_bytes().as_slice()])
                    .context("writing the catalog")?;
            }
            mark.lines += 1;
        }
    }
    tx.execute_batch(
        "INSERT OR IGNORE INTO identities (id) SELECT id FROM bulk ORDER BY id; DROP TABLE bulk;",
    )
    .context("writing the catalog")?;
    mark.offset = lines.offset();
    Ok(false)
}

/// The fields of a line the entries keep: the rest (origins above all) is
/// skipped unbuilt, which makes reading a line about a third cheaper.
#[derive(serde::Deserialize)]
struct Indexed {
    sha256: ObjectId,
    size: u64,
    mime: String,
    name: String,
    ingested_at: String,
}

/// Reads up to [`BATCH`] lines after `mark` into the entries; true when
/// more may follow.
fn index_entries(tx: &Transaction, manifest: &File, mark: &mut Mark) -> Result<bool> {
    let mut lines = lines_from::<Indexed>(manifest, mark.offset)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO entries (line, offset, len, sha, mime, size, at, kind, month)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .context("writing the catalog")?;
    let mut name = tx
        .prepare_cached("INSERT INTO names (rowid, name) VALUES (?1, ?2)")
        .context("writing the catalog")?;
    let mut read = 0;
    while read < BATCH {
        let start = lines.offset();
        let Some(line) = lines.next() else { break };
        let line = line?;
        let number = (mark.lines + read as u64) as i64;
        read += 1;
        let jsonl::Line::Value(entry) = line else {
            // Unreadable: numbered, never shown. (A torn last line is not
            // counted: it is read again once it is whole.)
            if matches!(line, jsonl::Line::Torn { .. }) {
                read -= 1;
            }
            continue;
        };
        let len = lines.offset() - start;
        let kind = Kind::of(&entry.mime);
        insert
            .execute(params![
                number,
                start as i64,
                len as i64,
                entry.sha256.as_bytes().as_slice(),
                entry.mime,
                i64::try_from(entry.size).unwrap_or(i64::MAX),
                entry.ingested_at,
                kind as u8,
                month_of(&entry.ingested_at),
            ])
            .context("writing the catalog")?;
        name.execute(params![number, entry.name.to_lowercase()])
            .context("writing the catalog")?;
    }
    mark.lines += read as u64;
    mark.offset = lines.offset();
    Ok(read == BATCH)
}

fn lines_from<T: serde::de::DeserializeOwned>(
    manifest: &File,
    offset: u64,
) -> Result<jsonl::Lines<BufReader<&File>, T>> {
    let mut reader = BufReader::with_capacity(256 * 1024, manifest);
    reader
        .seek(SeekFrom::Start(offset))
        .context("reading the manifest")?;
    Ok(jsonl::Lines::new(reader, offset))
}

/// A name search as the trigram index takes it: every three characters of
/// the lower-cased part, each quoted, all required. None when the part is
/// shorter than three characters (then every name is a candidate).
fn trigram_query(part: &str) -> Option<String> {
    let chars: Vec<char> = part.to_lowercase().chars().collect();
    if chars.len() < 3 {
        return None;
    }
    let mut trigrams: Vec<String> = chars
        .windows(3)
        .map(|w| format!("\"{}\"", w.iter().collect::<String>().replace('"', "\"\"")))
        .collect();
    trigrams.sort();
    trigrams.dedup();
    Some(trigrams.join(" AND "))
}

fn read_mark(conn: &Connection, part: Part) -> Result<Mark> {
    let number = |value: Option<Vec<u8>>| {
        value
            .and_then(|v| <[u8; 8]>::try_from(v).ok())
            .map_or(0, u64::from_le_bytes)
    };
    Ok(Mark {
        offset: number(read_meta(conn, &part.key("offset"))?),
        lines: number(read_meta(conn, &part.key("lines"))?),
        tail: read_meta(conn, &part.key("tail"))?.unwrap_or_default(),
    })
}

/// Records `mark` (its tail read from the manifest) for `part`.
fn write_mark(tx: &Transaction, part: Part, mark: &Mark, manifest: &File) -> Result<()> {
    let kept = TAIL.min(mark.offset);
    let mut tail = vec![0u8; kept as usize];
    manifest
        .read_exact_at(&mut tail, mark.offset - kept)
        .context("reading the manifest")?;
    write_meta(tx, &part.key("offset"), &mark.offset.to_le_bytes())?;
    write_meta(tx, &part.key("lines"), &mark.lines.to_le_bytes())?;
    write_meta(tx, &part.key("tail"), &tail)?;
    Ok(())
}

/// Begins the connection's long read transaction, unless it is in one.
fn keep_reading(conn: &Connection) -> Result<()> {
    if conn.is_autocommit() {
        conn.execute_batch("BEGIN DEFERRED")
            .context("reading the catalog")?;
    }
    Ok(())
}

/// Ends the connection's long read transaction, if it is in one: what was
/// written since it began is to be seen now.
fn end_reading(conn: &Connection) -> Result<()> {
    if !conn.is_autocommit() {
        conn.execute_batch("COMMIT")
            .context("reading the catalog")?;
    }
    Ok(())
}

/// Ends the connection's read transaction and begins a write transaction,
/// waiting for other writers.
fn begin_writing(conn: &mut Connection) -> Result<Transaction<'_>> {
    end_reading(conn)?;
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .context("locking the catalog")
}

/// Whether SQLite says another connection holds the lock.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_come_from_the_date() {
        assert_eq!(month_of("2026-11-05T12:00:00Z"), 202611);
        assert_eq!(month_of("2026-13-05"), 0);
        assert_eq!(month_of(""), 0);
        assert_eq!(month_of("20261105"), 0);
    }

    #[test]
    fn name_searches_need_three_characters() {
        assert_eq!(trigram_query("ab"), None);
        assert_eq!(
            trigram_query("IMG_1").as_deref(),
            Some("\"g_1\" AND \"img\" AND \"mg_\"")
        );
        assert_eq!(
            trigram_query("a\"bc").as_deref(),
            Some("\"\"\"bc\" AND \"a\"\"b\"")
        );
    }
}
