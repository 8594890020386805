//! `ingest export DEST`: entries written under their recorded names.
//!
//! Names come from untrusted sources (MMS parts, other people's files), so
//! each is reduced to one safe path component, and every file is created
//! relative to DEST's directory handle with O_EXCL|O_NOFOLLOW: no write can
//! land outside DEST, not even through a symlink already sitting in it.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use rustix::fs::{AtFlags, CWD, Mode, OFlags};

use super::filter::{EntryFilter, resolve_hashes};
use crate::cli::{ExportArgs, GlobalArgs, LinkMode};
use crate::deletions::WalkRecord;
use crate::exit::Exit;
use crate::failure::Failure;
use crate::manifest::{Entry, Line};
use crate::names::shorten;
use crate::object_id::ObjectId;
use crate::pipeline::{Pass, Sink, SoFar};
use crate::store::Opener;
use crate::store::StoreView;

pub fn run(global: &GlobalArgs, opener: &Opener, args: &ExportArgs) -> Result<Exit> {
    let Some(filter) = EntryFilter::or_usage(&args.filter) else {
        return Ok(Exit::Usage);
    };
    let store = opener.view()?;
    let wanted = resolve_hashes(store.as_ref(), &args.hashes)?;
    fs::create_dir_all(&args.dest).with_context(|| format!("creating {}", args.dest.display()))?;
    let dest: OwnedFd = rustix::fs::open(
        &args.dest,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening {}", args.dest.display()))?;
    let as_of = match args.as_of.as_deref().map(crate::manifest::parse_date_bound) {
        None => None,
        Some(Ok(at)) => Some(at),
        Some(Err(why)) => {
            say!("--as-of: {why}");
            return Ok(Exit::Usage);
        }
    };
    let mut export = Export {
        dest,
        dest_path: &args.dest,
        link: args.link,
        overwrite: args.overwrite,
        given: Given::new()?,
        pass: Pass::new(),
        failed: 0,
        out: BufWriter::new(io::stdout().lock()),
        json: global.json,
        quiet: global.quiet,
    };
    let picked = |entry: &Entry| {
        (wanted.is_empty() || wanted.contains(&entry.sha256))
            && filter.matches(entry)
            && as_of.is_none_or(|as_of| {
                entry
                    .ingested_at
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|at| at <= as_of)
            })
    };
    if args.tree && !args.all_versions {
        // First the newest entry of each path, then those entries.
        for (line, entry) in numbered_entries(store.as_ref())? {
            if picked(&entry) {
                export
                    .given
                    .offer_newest(&entry.path_bytes(), &entry.ingested_at, line)?;
            }
        }
        // Then what walks found gone (or back) by then.
        for record in crate::deletions::walk_records(store.as_ref())? {
            let by_then = as_of.is_none_or(|as_of| {
                record
                    .at
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|at| at <= as_of)
            });
            if by_then {
                export.given.offer_walk(&record)?;
            }
        }
    }
    for (line, entry) in numbered_entries(store.as_ref())? {
        if !picked(&entry) {
            continue;
        }
        match (args.tree, args.all_versions) {
            (false, _) => export.one(&entry, store.as_ref())?,
            (true, true) => export.at_path(&entry, store.as_ref(), true)?,
            (true, false) => {
                if export.given.is_newest(&entry.path_bytes(), line)? {
                    export.at_path(&entry, store.as_ref(), false)?;
                }
            }
        }
    }
    export.out.flush()?;
    Ok(if export.failed > 0 {
        Exit::Partial
    } else {
        Exit::Success
    })
}

/// The manifest's entries with their numbers (the n-th readable line).
fn numbered_entries(store: &dyn StoreView) -> Result<impl Iterator<Item = (u64, Entry)>> {
    let mut n = 0u64;
    Ok(store.entries()?.filter_map(move |line| match line {
        Ok(Line::Value(entry)) => {
            n += 1;
            Some((n, entry))
        }
        _ => None,
    }))
}

/// Why a recorded path cannot be written below DEST: it climbs out of it
/// (`..`), starts at the root, or holds a NUL.
fn refused_path(path: &[u8]) -> Option<&'static str> {
    if path.starts_with(b"/") {
        return Some("it is absolute");
    }
    if path.contains(&0) {
        return Some("it holds a NUL byte");
    }
    if path.split(|&b| b == b'/').any(|part| part == b"..") {
        return Some("it climbs out of its folder (..)");
    }
    None
}

struct Export<'a, W: Write> {
    dest: OwnedFd,
    dest_path: &'a Path,
    link: LinkMode,
    overwrite: bool,
    /// The names given so far.
    given: Given,
    pass: Pass,
    failed: u64,
    out: W,
    json: bool,
    quiet: bool,
}

impl<W: Write> Export<'_, W> {
    fn one(&mut self, entry: &Entry, store: &dyn StoreView) -> Result<()> {
        let base = safe_name(&entry.name_bytes(), &entry.ext);
        if !self.given.first_time(&base, &entry.sha256)? {
            return Ok(());
        }
        let name = self.distinct(&base)?;
        let shown = self.dest_path.join(&name);
        let dest = self.dest.try_clone().context("opening DEST")?;
        self.write_and_report(&dest, store, &name, &shown, entry)
    }

    /// Writes `entry` at its recorded path below DEST (with its date in its
    /// name for `versioned`), making each folder on the way relative to
    /// the one before it and following no symlink: nothing lands outside
    /// DEST, whatever the path says. A path that would leave DEST is
    /// refused and named; a file where a folder must go (or a folder where
    /// the file must) keeps its place, and the newcomer takes a marked
    /// name beside it, the clash said.
    fn at_path(&mut self, entry: &Entry, store: &dyn StoreView, versioned: bool) -> Result<()> {
        let raw = entry.path_bytes();
        let bytes = raw.as_encoded_bytes();
        let shown_raw = String::from_utf8_lossy(bytes).into_owned();
        if let Some(why) = refused_path(bytes) {
            self.failed += 1;
            let shown = crate::stderr::escape(&shown_raw);
            say!("{shown}: not written: {why}");
            let dest = self.dest_path.to_path_buf();
            return self.report(entry, &dest, "refused", Some(why.to_string()));
        }
        let parts: Vec<&[u8]> = bytes
            .split(|&b| b == b'/')
            .filter(|part| !part.is_empty() && *part != b".")
            .collect();
        let Some((last, folders)) = parts.split_last() else {
            return self.one(entry, store);
        };
        let mut dir = self.dest.try_clone().context("opening DEST")?;
        let mut shown = self.dest_path.to_path_buf();
        for folder in folders {
            let name = safe_name(OsStr::from_bytes(folder), "");
            let (opened, used) = match self.folder_in(&dir, &name) {
                Ok(opened) => opened,
                Err(e) => {
                    self.failed += 1;
                    say!("{}: {e:#}", shown.join(&name).display());
                    return self.report(
                        entry,
                        &shown.join(&name),
                        "failed",
                        Some(format!("{e:#}")),
                    );
                }
            };
            shown.push(&used);
            dir = opened;
        }
        let mut name = safe_name(OsStr::from_bytes(last), &entry.ext);
        if versioned {
            let when = entry.ingested_at.replace(':', "-");
            name = shorten(dated(&name, &when));
        }
        let (key, sha) = (shown.join(&name), entry.sha256);
        if !self.given.first_time(&key.to_string_lossy(), &sha)? {
            return Ok(());
        }
        if rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
        }) {
            say!(
                "warning: {}: a folder of that name is in the tree; the file is written as {name} (file)",
                key.display()
            );
            name = shorten(format!("{name} (file)"));
        }
        let target = shown.join(&name);
        self.write_and_report(&dir, store, &name, &target, entry)
    }

    /// Writes `entry`'s object as `name` in `dir` (shown as `target`) and
    /// reports how that went; a failure counts towards exit 3.
    fn write_and_report(
        &mut self,
        dir: &OwnedFd,
        store: &dyn StoreView,
        name: &str,
        target: &Path,
        entry: &Entry,
    ) -> Result<()> {
        match self.place_in(dir, store, name, entry.sha256) {
            Ok(Placed::Written) => self.report(entry, target, "exported", None),
            Ok(Placed::Exists) => {
                if !self.quiet {
                    say!(
                        "warning: {}: exists (--overwrite replaces it)",
                        target.display()
                    );
                }
                self.report(entry, target, "exists", None)
            }
            Err(e) => {
                self.failed += 1;
                say!("{}: {e:#}", target.display());
                self.report(entry, target, "failed", Some(format!("{e:#}")))
            }
        }
    }

    /// The folder `name` in `dir`, made if missing, opened without
    /// following a symlink. Where a file (or a symlink) has the name, the
    /// folder is `name (folder)` beside it. Returns it and the name used.
    fn folder_in(&mut self, dir: &OwnedFd, name: &str) -> Result<(OwnedFd, String)> {
        for (i, candidate) in [name.to_owned(), format!("{name} (folder)")]
            .into_iter()
            .enumerate()
        {
            let candidate = shorten(candidate);
            match rustix::fs::mkdirat(dir, candidate.as_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(io::Error::from(e)).context("making the folder"),
            }
            let opened = rustix::fs::openat(
                dir,
                candidate.as_str(),
                OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            );
            match opened {
                Ok(fd) => {
                    if i > 0 {
                        say!(
                            "warning: {name}: a file of that name is in the tree; its folder is {candidate}"
                        );
                    }
                    return Ok((fd, candidate));
                }
                Err(rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => continue,
                Err(e) => return Err(io::Error::from(e)).context("opening the folder"),
            }
        }
        Err(anyhow!(
            "neither {name} nor {name} (folder) can be a folder here"
        ))
    }

    /// The next unused variant of `base`: `name.jpg`, `name (2).jpg`, ...
    fn distinct(&mut self, base: &str) -> Result<String> {
        let mut n = self.given.last_number(base)?;
        loop {
            n += 1;
            let candidate = if n == 1 {
                base.to_owned()
            } else {
                numbered(base, n)
            };
            if self.given.take(&candidate)? {
                self.given.set_last_number(base, n)?;
                return Ok(candidate);
            }
        }
    }

    /// Writes object `id` as `name` in the folder `dir` (DEST or one of its
    /// tree's): a new file, or with --overwrite one beside it renamed over.
    fn place_in(
        &mut self,
        dir: &OwnedFd,
        store: &dyn StoreView,
        name: &str,
        id: ObjectId,
    ) -> Result<Placed> {
        let exists = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok();
        if exists && !self.overwrite {
            return Ok(Placed::Exists);
        }
        // With --overwrite, write beside it and rename over: the rename
        // replaces a symlink itself, never what it points to. The temp name
        // is short, whatever the name's length.
        let temp = format!(".ingest-export-{}.tmp", std::process::id());
        let target = if exists { temp.as_str() } else { name };
        let _ = rustix::fs::unlinkat(dir, temp.as_str(), AtFlags::empty());
        let placed = match self.link {
            LinkMode::Copy => self.copy(dir, store, target, id),
            LinkMode::Hard => self.hard_link(dir, store, target, id),
        };
        if placed.is_err() {
            let _ = rustix::fs::unlinkat(dir, target, AtFlags::empty());
        }
        placed?;
        if exists {
            rustix::fs::renameat(dir, target, dir, name).context("replacing")?;
        }
        Ok(Placed::Written)
    }

    /// A hard link to the object, made only once the object is checked
    /// against its hash: a corrupt object is never exported.
    fn hard_link(
        &mut self,
        dir: &OwnedFd,
        store: &dyn StoreView,
        target: &str,
        id: ObjectId,
    ) -> Result<()> {
        let object = store
            .local_path(&id)
            .ok_or_else(|| anyhow!("--link hard needs a local store: use --link copy"))?;
        self.check(&mut store.read_object(&id)?, id)?;
        rustix::fs::linkat(CWD, &object, dir, target, AtFlags::empty())
            .map_err(io::Error::from)
            .context("hard-linking")
    }

    /// A copy of its own: a reflink where the filesystem can share the
    /// object's blocks (then the clone is read back and checked), else the
    /// bytes through the one pass, checked on the way.
    fn copy(
        &mut self,
        dir: &OwnedFd,
        store: &dyn StoreView,
        target: &str,
        id: ObjectId,
    ) -> Result<()> {
        let fd = rustix::fs::openat(
            dir,
            target,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .context("creating")?;
        let mut file = File::from(fd);
        let object = store.local_path(&id).and_then(|path| File::open(path).ok());
        if let Some(object) = object
            && rustix::fs::ioctl_ficlone(&file, &object).is_ok()
        {
            return self.check(&mut &file, id);
        }
        let mut source = store.read_object(&id)?;
        let copied = self.pass.run(&mut source, &mut [&mut CopyTo(&mut file)]);
        verdict(copied, id)
    }

    /// Hashes `bytes` and says whether they are object `id`'s.
    fn check(&mut self, bytes: &mut dyn io::Read, id: ObjectId) -> Result<()> {
        let read = self.pass.run(bytes, &mut []);
        verdict(read, id)
    }

    fn report(
        &mut self,
        entry: &Entry,
        shown: &Path,
        status: &str,
        error: Option<String>,
    ) -> Result<()> {
        if self.json {
            let mut object = serde_json::json!({
                "status": status,
                "path": shown.to_string_lossy(),
                "sha256": entry.sha256.to_string(),
                "name": entry.name,
            });
            if let Some(error) = error {
                object["error"] = error.into();
            }
            super::line(&mut self.out, &object.to_string())?;
        } else if status == "exported" {
            self.out.write_all(&crate::report::sha256sum_line(
                &entry.sha256.to_string(),
                shown.as_os_str(),
            ))?;
        }
        Ok(())
    }
}

enum Placed {
    Written,
    Exists,
}

/// Whether what was read is the object it should be.
fn verdict(read: Result<crate::pipeline::Passed, Failure>, id: ObjectId) -> Result<()> {
    match read {
        Ok(passed) if passed.id == id => Ok(()),
        Ok(passed) => Err(anyhow!(
            "the object is corrupt (its content hashes to {}); run ingest verify",
            passed.id
        )),
        Err(failure) => Err(anyhow!("{failure:#}")),
    }
}

struct CopyTo<'a>(&'a mut File);

impl Sink for CopyTo<'_> {
    fn take(&mut self, chunk: &[u8], _so_far: &SoFar) -> Result<(), Failure> {
        self.0
            .write_all(chunk)
            .map_err(|e| Failure::Store(anyhow!(e).context("writing the copy")))
    }
}

/// `name.jpg` as `name (WHEN).jpg`.
fn dated(name: &str, when: &str) -> String {
    match name.rfind('.').filter(|&i| i > 0) {
        Some(i) => format!("{} ({when}){}", &name[..i], &name[i..]),
        None => format!("{name} ({when})"),
    }
}

/// `name.jpg` as `name (N).jpg`.
fn numbered(name: &str, n: u32) -> String {
    match name.rfind('.').filter(|&i| i > 0) {
        Some(i) => format!("{} ({n}){}", &name[..i], &name[i..]),
        None => format!("{name} ({n})"),
    }
}

/// Reduces an untrusted name to one path component that is safe on Linux,
/// macOS and Windows: no separators, NUL or control characters, no bytes
/// that are not UTF-8, no `.`/`..`, no reserved device names, at most
/// 240 bytes ([`MAX_NAME`](crate::names::MAX_NAME)). An empty result becomes `unnamed.<ext>`.
pub fn safe_name(raw: &OsStr, ext: &str) -> String {
    let lossy = String::from_utf8_lossy(raw.as_encoded_bytes());
    let cleaned: String = lossy
        .chars()
        .map(|c| match c {
            '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\u{FFFD}' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim_start_matches(' ').trim_end_matches(['.', ' ']);
    let mut name = if trimmed.is_empty() {
        match ext {
            "" => "unnamed".to_owned(),
            ext => format!("unnamed.{ext}"),
        }
    } else {
        trimmed.to_owned()
    };
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        name.insert(0, '_');
    }
    shorten(name)
}

/// The names an export has given, in a temporary database on disk (SQLite
/// spills to a temporary file past its page cache), so an export of
/// millions of entries keeps flat memory.
struct Given {
    db: rusqlite::Connection,
}

impl Given {
    fn new() -> Result<Self> {
        // An empty path: a private database in a temporary file.
        let db = rusqlite::Connection::open("").context("making the export's list of names")?;
        db.execute_batch(
            "PRAGMA cache_size = -4096;
             CREATE TABLE numbers (base TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE taken (name TEXT PRIMARY KEY) WITHOUT ROWID;
             CREATE TABLE done (base TEXT NOT NULL, sha BLOB NOT NULL, PRIMARY KEY (base, sha)) WITHOUT ROWID;
             CREATE TABLE newest (path BLOB PRIMARY KEY, at TEXT NOT NULL, line INTEGER NOT NULL,
                                  gone_at TEXT, back_at TEXT) WITHOUT ROWID;",
        )
        .context("making the export's list of names")?;
        Ok(Given { db })
    }

    /// Whether (`base`, `id`) is exported for the first time (the same
    /// file twice is written once); remembers it.
    fn first_time(&self, base: &str, id: &ObjectId) -> Result<bool> {
        let mut insert = self
            .db
            .prepare_cached("INSERT OR IGNORE INTO done (base, sha) VALUES (?1, ?2)")?;
        Ok(insert.execute(rusqlite::params![base, id.as_bytes().as_slice()])? == 1)
    }

    /// The last number given to `base` (0: none yet).
    fn last_number(&self, base: &str) -> Result<u32> {
        use rusqlite::OptionalExtension;
        let mut query = self
            .db
            .prepare_cached("SELECT n FROM numbers WHERE base = ?1")?;
        let n: Option<u32> = query.query_row([base], |row| row.get(0)).optional()?;
        Ok(n.unwrap_or(0))
    }

    fn set_last_number(&self, base: &str, n: u32) -> Result<()> {
        let mut upsert = self.db.prepare_cached(
            "INSERT INTO numbers (base, n) VALUES (?1, ?2) ON CONFLICT(base) DO UPDATE SET n = ?2",
        )?;
        upsert.execute(rusqlite::params![base, n])?;
        Ok(())
    }

    /// Offers the entry of `line`, stored `at`, as the newest of `path`:
    /// kept unless one stored later (or as late, and later in the
    /// manifest) is.
    fn offer_newest(&self, path: &OsStr, at: &str, line: u64) -> Result<()> {
        let mut upsert = self.db.prepare_cached(
            "INSERT INTO newest (path, at, line) VALUES (?1, ?2, ?3)
             ON CONFLICT(path) DO UPDATE SET at = ?2, line = ?3 WHERE ?2 >= newest.at",
        )?;
        let line = i64::try_from(line).unwrap_or(i64::MAX);
        upsert.execute(rusqlite::params![path.as_encoded_bytes(), at, line])?;
        Ok(())
    }

    /// Offers what a walk found (see [`crate::deletions`]): each path
    /// keeps the latest time it was found gone, and found back.
    fn offer_walk(&self, record: &WalkRecord) -> Result<()> {
        let mut gone = self.db.prepare_cached(
            "UPDATE newest SET gone_at = ?2 WHERE path = ?1 AND (gone_at IS NULL OR gone_at < ?2)",
        )?;
        for path in &record.gone {
            gone.execute(rusqlite::params![path.as_encoded_bytes(), record.at])?;
        }
        let mut back = self.db.prepare_cached(
            "UPDATE newest SET back_at = ?2 WHERE path = ?1 AND (back_at IS NULL OR back_at < ?2)",
        )?;
        for path in &record.back {
            back.execute(rusqlite::params![path.as_encoded_bytes(), record.at])?;
        }
        Ok(())
    }

    /// Whether the entry of `line` is the newest of `path`, and `path` was
    /// not found gone after it (nor then found back).
    fn is_newest(&self, path: &OsStr, line: u64) -> Result<bool> {
        use rusqlite::OptionalExtension;
        let mut query = self.db.prepare_cached(
            "SELECT line FROM newest WHERE path = ?1
             AND (gone_at IS NULL OR max(at, coalesce(back_at, '')) > gone_at)",
        )?;
        let chosen: Option<i64> = query
            .query_row([path.as_encoded_bytes()], |row| row.get(0))
            .optional()?;
        Ok(chosen.is_some_and(|chosen| u64::try_from(chosen) == Ok(line)))
    }

    /// Takes `name` if no entry has it yet.
    fn take(&self, name: &str) -> Result<bool> {
        let mut insert = self
            .db
            .prepare_cached("INSERT OR IGNORE INTO taken (name) VALUES (?1)")?;
        Ok(insert.execute([name])? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::MAX_NAME;
    use std::os::unix::ffi::OsStrExt;

    fn safe(raw: &[u8]) -> String {
        safe_name(OsStr::from_bytes(raw), "jpg")
    }

    #[test]
    fn hostile_names_become_one_safe_component() {
        assert_eq!(safe(b"../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(safe(b"/abs/path"), "_abs_path");
        assert_eq!(safe(b"a/../../b"), "a_.._.._b");
        assert_eq!(safe(b"line\nbreak\0.jpg"), "line_break_.jpg");
        assert_eq!(safe(b"caf\xe9.jpg"), "caf_.jpg");
        assert_eq!(safe(b".."), "unnamed.jpg");
        assert_eq!(safe(b""), "unnamed.jpg");
        assert_eq!(safe(b"CON.txt"), "_CON.txt");
        assert_eq!(safe(b"com1"), "_com1");
        assert_eq!(safe(b"photo. "), "photo");
        let long = safe(
            &[b'x'; 300]
                .iter()
                .chain(b".jpeg")
                .copied()
                .collect::<Vec<_>>(),
        );
        assert!(long.len() <= MAX_NAME && long.ends_with(".jpeg"), "{long}");
        let wide = safe("é".repeat(200).as_bytes());
        assert!(wide.len() <= MAX_NAME);
    }

    #[test]
    fn numbering_keeps_the_extension() {
        assert_eq!(numbered("a.jpg", 2), "a (2).jpg");
        assert_eq!(numbered(".hidden", 3), ".hidden (3)");
        assert_eq!(numbered("noext", 2), "noext (2)");
    }
}
