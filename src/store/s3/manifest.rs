//! The manifest of an S3 store: a log of numbered commits, packs that
//! consolidate them, and a copy on this machine that the catalog indexes.
//!
//! S3 has no append, so the manifest is a log of immutable objects, as
//! Delta Lake keeps its `_delta_log`:
//!
//! ```text
//! manifest/log/<20-digit N>.jsonl            commit N: the lines of one batch
//! manifest/packs/<from>-<to>.jsonl           the lines of commits from..=to
//! manifest/<time>-<random>.jsonl             segments of older versions
//! ```
//!
//! A writer makes commit N create-only (`If-None-Match: *`) after seeing
//! commit N-1, so commits are numbered densely and in order, and two
//! machines racing for one number never overwrite each other: the loser
//! reads what the winner wrote and tries the next number with what is
//! still new. Once N exists, no commit below N can appear. The writer of
//! commit N makes, also create-only, the packs that end at N: one of the
//! last 100 commits when N is a multiple of 100, one of the last 1,000 when
//! a multiple of 1,000, and so on, each from the ten packs below it. A
//! reader starting from nothing takes the largest pack that starts where it
//! is, again and again, then lists and reads the commits after the last
//! pack: at most nine packs a level and 99 commits, whatever the store's
//! age. Segments of older versions are read as they are found.
//!
//! The copy, `manifest.jsonl` in this store's local cache, holds each line
//! once (a line whose identity it holds already is not copied), in the
//! order read, so the store tools stream it and the catalog indexes it as
//! it does a local store's manifest. Beside it, `manifest-state.json` says
//! how many of its bytes are whole and which commit and segments they
//! hold; bytes past that (a run killed while copying) are cut off and read
//! again.
//!
//! Older versions list `manifest/` at every depth and merge what they
//! find, repeats given once, so they still see every entry.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use opendal::blocking;
use opendal::options::{ListOptions, WriteOptions};
use opendal::{EntryMode, ErrorKind};
use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::catalog::{self, Catalog, Part};
use crate::jsonl;
use crate::manifest::{Entry, Identity, IdentitySet, LineIdentity};

const LOG: &str = "manifest/log/";
const PACKS: &str = "manifest/packs/";
const SEGMENTS: &str = "manifest/";

/// Commits in a pack of the first level; each level's packs hold ten of
/// the level below.
const PACK: u64 = 100;
const FANOUT: u64 = 10;

/// Bytes copied between two catch-ups of the catalog while syncing, so
/// that the identities of lines copied but not yet indexed stay few.
const FLUSH_BYTES: usize = 8 << 20;

fn commit_key(n: u64) -> String {
    format!("{LOG}{n:020}.jsonl")
}

fn pack_key(from: u64, to: u64) -> String {
    format!("{PACKS}{from:020}-{to:020}.jsonl")
}

fn commit_number(key: &str) -> Option<u64> {
    key.strip_prefix(LOG)?.strip_suffix(".jsonl")?.parse().ok()
}

fn pack_range(key: &str) -> Option<(u64, u64)> {
    let (from, to) = key
        .strip_prefix(PACKS)?
        .strip_suffix(".jsonl")?
        .split_once('-')?;
    Some((from.parse().ok()?, to.parse().ok()?))
}

/// The packs whose last commit is `n`, smallest first: (from, to).
fn packs_ending_at(n: u64) -> Vec<(u64, u64)> {
    let mut packs = Vec::new();
    let mut size = PACK;
    while n.is_multiple_of(size) {
        packs.push((n - size + 1, n));
        size = match size.checked_mul(FANOUT) {
            Some(size) => size,
            None => break,
        };
    }
    packs
}

/// The bucket, as the manifest's code asks it.
pub(super) struct Remote<'a> {
    pub op: &'a blocking::Operator,
    /// Says which store a failure is about.
    pub failed: &'a dyn Fn(&str, opendal::Error) -> anyhow::Error,
}

impl Remote<'_> {
    /// The keys under `prefix` after `after`, in order.
    fn list_after(&self, prefix: &str, after: &str) -> Result<Vec<String>> {
        let options = ListOptions {
            recursive: true,
            start_after: Some(after.to_owned()),
            ..ListOptions::default()
        };
        match self.op.list_options(prefix, options) {
            Ok(listed) => Ok(listed
                .into_iter()
                .filter(|e| e.metadata().mode() == EntryMode::FILE)
                .map(|e| e.path().to_owned())
                .collect()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err((self.failed)(&format!("listing {prefix}"), e)),
        }
    }

    /// The segments of older versions: the `.jsonl` keys right under
    /// `manifest/` (one page of listing when there are none).
    fn list_segments(&self) -> Result<Vec<String>> {
        match self.op.list_options(SEGMENTS, ListOptions::default()) {
            Ok(listed) => Ok(listed
                .into_iter()
                .filter(|e| e.metadata().mode() == EntryMode::FILE)
                .map(|e| e.path().to_owned())
                .filter(|p| p.ends_with(".jsonl") && !p[SEGMENTS.len()..].contains('/'))
                .collect()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err((self.failed)("listing the manifest", e)),
        }
    }

    /// The object at `key`, streamed.
    fn read(&self, key: &str) -> Result<impl BufRead + use<>> {
        let reader = self
            .op
            .reader(key)
            .and_then(|r| r.into_std_read(..))
            .map_err(|e| (self.failed)(&format!("reading {key}"), e))?;
        Ok(BufReader::with_capacity(256 << 10, reader))
    }

    /// Writes `key` whole, over what it held.
    fn replace(&self, key: &str, text: Vec<u8>) -> Result<()> {
        self.op
            .write(key, text)
            .map(|_| ())
            .map_err(|e| (self.failed)(&format!("writing {key}"), e))
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.op
            .delete(key)
            .map_err(|e| (self.failed)(&format!("removing {key}"), e))
    }

    /// Creates `key` holding `text`; false when it exists already.
    fn create(&self, key: &str, text: Vec<u8>) -> Result<bool> {
        let options = WriteOptions {
            if_not_exists: true,
            ..WriteOptions::default()
        };
        match self.op.write_options(key, text, options) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::ConditionNotMatch => Ok(false),
            Err(e) => Err((self.failed)(&format!("writing {key}"), e)),
        }
    }
}

/// The start of a removal's mark: a commit of one line, `{"rewritten":
/// TIME}`, made after the lines of removed entries were taken out of every
/// commit, pack and segment holding them.
const REWRITTEN: &[u8] = b"{\"rewritten\":";

/// How a sync ended.
#[derive(Debug, PartialEq, Eq)]
enum Synced {
    Done,
    /// A removal's mark came after lines this copy held.
    Rewritten,
}

/// What the local copy holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// The last commit copied (all before it are too, in packs or alone).
    log: u64,
    /// The copy's whole bytes: what follows is cut off.
    len: u64,
    /// The segments of older versions copied.
    #[serde(default)]
    segments: BTreeSet<String>,
}

/// How the copy answers whether an identity is in it.
enum Known {
    Catalog(Catalog),
    /// The catalog could not be used: the identities read into memory, and
    /// how far.
    Memory(IdentitySet, u64),
}

/// The manifest's local copy and its catalog; see the module documentation.
/// Every process and handle on this machine that uses the store's cache
/// shares the copy: each change to it is made under `manifest.lock`, from
/// the state on disk.
pub(super) struct Mirror {
    file: File,
    lock: File,
    state_path: PathBuf,
    state: State,
    known: Known,
    /// Identities copied since the catalog last caught up.
    fresh: IdentitySet,
    /// Lines waiting to be copied.
    pending: Vec<u8>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Mirror(log {}, {} bytes)",
            self.state.log, self.state.len
        )
    }
}

impl Mirror {
    /// The copy in `dir`, its torn end cut off; made anew when it is
    /// shorter than its state says.
    pub fn open(dir: &Path) -> Result<Mirror> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("manifest.jsonl");
        let state_path = dir.join("manifest-state.json");
        // Appended to (O_APPEND: a write lands at the end, wherever a
        // reader of the same descriptor left its position).
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let lock = crate::store::open_lock_file(&dir.join("manifest.lock"))?;
        let known = match Catalog::open(&dir.join(catalog::FILE_NAME)) {
            Ok(catalog) => Known::Catalog(catalog),
            Err(e) => {
                say!("warning: going on without the catalog: {e:#}");
                Known::Memory(IdentitySet::default(), 0)
            }
        };
        let mut mirror = Mirror {
            file,
            lock,
            state_path,
            state: State::default(),
            known,
            fresh: IdentitySet::default(),
            pending: Vec::new(),
        };
        mirror.locked(|_| Ok(()))?;
        Ok(mirror)
    }

    /// Runs `change` holding the copy's lock, from the state on disk (another
    /// process may have copied more since), the copy's torn end cut off.
    pub fn locked<T>(&mut self, change: impl FnOnce(&mut Mirror) -> Result<T>) -> Result<T> {
        self.lock.lock().context("locking the manifest's copy")?;
        let changed = self.change_locked(change);
        let _ = self.lock.unlock();
        changed
    }

    fn change_locked<T>(&mut self, change: impl FnOnce(&mut Mirror) -> Result<T>) -> Result<T> {
        let state: State = fs::read(&self.state_path)
            .ok()
            .and_then(|text| serde_json::from_slice(&text).ok())
            .unwrap_or_default();
        let len = self
            .file
            .metadata()
            .context("reading the manifest's copy")?
            .len();
        self.state = match len >= state.len {
            true => state,
            false => State::default(),
        };
        if len != self.state.len {
            self.file
                .set_len(self.state.len)
                .context("cutting the manifest's copy")?;
        }
        self.catch_up()?;
        let changed = change(self);
        self.pending.clear();
        self.fresh = IdentitySet::default();
        changed
    }

    /// The copy: whole lines, each identity once.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The catalog of the copy, when it could be opened.
    pub fn catalog(&self) -> Option<&Catalog> {
        match &self.known {
            Known::Catalog(catalog) => Some(catalog),
            Known::Memory(..) => None,
        }
    }

    /// Brings the catalog's `part` up to the copy's end.
    pub fn catch_up_part(&mut self, part: Part) -> Result<()> {
        if let Known::Catalog(catalog) = &mut self.known {
            catalog.catch_up(&self.file, part)?;
        }
        Ok(())
    }

    /// Whether a line of this identity is in the copy.
    pub fn contains(&self, id: &Identity) -> Result<bool> {
        if self.fresh.contains(id) {
            return Ok(true);
        }
        match &self.known {
            Known::Catalog(catalog) => catalog.contains(id),
            Known::Memory(ids, _) => Ok(ids.contains(id)),
        }
    }

    fn catch_up(&mut self) -> Result<()> {
        match &mut self.known {
            Known::Catalog(catalog) => {
                catalog.catch_up(&self.file, Part::Identities)?;
            }
            Known::Memory(ids, read_to) => {
                // Cut or emptied since: read again from the start.
                if *read_to > self.file.metadata()?.len() {
                    *ids = IdentitySet::default();
                    *read_to = 0;
                }
                *read_to = crate::manifest::read_identities(&self.file, *read_to, ids)?;
            }
        }
        self.fresh = IdentitySet::default();
        Ok(())
    }

    /// Takes in the lines of `reader` (a commit, a pack, a segment): those
    /// whose identity is new wait in `pending` to be copied. Says whether
    /// it held a removal's mark.
    fn take(&mut self, reader: impl BufRead) -> Result<bool> {
        let mut marked = false;
        let mut lines = reader.split(b'\n');
        while let Some(line) = lines.next().transpose().context("reading the manifest")? {
            if line.is_empty() {
                continue;
            }
            if line.starts_with(REWRITTEN) {
                marked = true;
                continue;
            }
            // A line that does not parse is copied as it is, for the tools
            // to report; one whose identity is known already is not.
            if let Ok(LineIdentity(id)) = serde_json::from_slice::<LineIdentity>(&line) {
                if self.contains(&id)? {
                    continue;
                }
                self.fresh.insert(id);
            }
            self.pending.extend_from_slice(&line);
            self.pending.push(b'\n');
        }
        Ok(marked)
    }

    /// Copies what waits (made durable first), records the state, and
    /// brings the catalog up to date.
    fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            let end = self.state.len;
            jsonl::append_durably(&self.file, end, &self.pending)
                .context("writing the manifest's copy")?;
            self.state.len = end + self.pending.len() as u64;
            self.pending.clear();
        }
        self.save_state()?;
        self.catch_up()
    }

    fn save_state(&self) -> Result<()> {
        let dir = self.state_path.parent().unwrap_or(Path::new("."));
        let mut temp = NamedTempFile::new_in(dir).context("saving the manifest's state")?;
        temp.write_all(&serde_json::to_vec(&self.state)?)
            .context("saving the manifest's state")?;
        temp.persist(&self.state_path)
            .map_err(|e| e.error)
            .context("saving the manifest's state")?;
        Ok(())
    }

    /// Copies what the bucket holds that the copy does not: the largest
    /// packs from the next commit on, the commits after them, and segments
    /// of older versions not copied yet.
    ///
    /// A removal's mark read past a copy that held lines already means
    /// history was rewritten behind it: the copy is made again from the
    /// bucket (where the removed lines are no more), so a removed entry
    /// never lives on in a machine's copy.
    pub fn sync(&mut self, remote: &Remote) -> Result<()> {
        let fresh = self.state.log == 0 && self.state.segments.is_empty() && self.state.len == 0;
        if self.sync_once(remote, fresh)? == Synced::Rewritten {
            self.reset()?;
            self.sync_once(remote, true)?;
        }
        Ok(())
    }

    fn sync_once(&mut self, remote: &Remote, mut fresh: bool) -> Result<Synced> {
        // The last commit copied must still be there (listed with those
        // after it): a manifest removed or rewritten behind the copy makes
        // it read everything again, as the catalog does a local manifest.
        let mut listed = None;
        if self.state.log > 0 {
            let after = remote.list_after(LOG, &commit_key(self.state.log - 1))?;
            if after
                .iter()
                .any(|key| commit_number(key) == Some(self.state.log))
            {
                listed = Some(after);
            } else {
                self.reset()?;
                fresh = true;
            }
        }
        let mut next = self.state.log + 1;
        let mut packs: BTreeMap<u64, u64> = BTreeMap::new();
        for key in remote.list_after(PACKS, &format!("{PACKS}{next:020}"))? {
            if let Some((from, to)) = pack_range(&key) {
                let end = packs.entry(from).or_insert(to);
                *end = (*end).max(to);
            }
        }
        while let Some(&to) = packs.get(&next) {
            if self.take(remote.read(&pack_key(next, to))?)? && !fresh {
                return Ok(Synced::Rewritten);
            }
            self.state.log = to;
            next = to + 1;
            listed = None;
            if self.pending.len() > FLUSH_BYTES {
                self.flush()?;
            }
        }
        let listed = match listed {
            Some(listed) => listed,
            None => remote.list_after(LOG, &commit_key(self.state.log))?,
        };
        let mut commits: Vec<u64> = listed
            .iter()
            .filter_map(|key| commit_number(key))
            .filter(|&n| n > self.state.log)
            .collect();
        commits.sort_unstable();
        for n in commits {
            if self.take(remote.read(&commit_key(n))?)? && !fresh {
                return Ok(Synced::Rewritten);
            }
            self.state.log = n;
            if self.pending.len() > FLUSH_BYTES {
                self.flush()?;
            }
        }
        let mut segments = remote.list_segments()?;
        segments.sort();
        for key in segments {
            if !self.state.segments.contains(&key) {
                if self.take(remote.read(&key)?)? && !fresh {
                    return Ok(Synced::Rewritten);
                }
                self.state.segments.insert(key);
            }
        }
        self.flush()?;
        Ok(Synced::Done)
    }

    /// Empties the copy, to be read again from the bucket.
    fn reset(&mut self) -> Result<()> {
        self.state = State::default();
        self.pending.clear();
        self.file
            .set_len(0)
            .context("emptying the manifest's copy")?;
        self.save_state()?;
        self.catch_up()
    }

    /// Records `entries` as the next commit, after copying what others
    /// committed; returns which were new (the rest were recorded already).
    /// The commit's number is taken create-only: when another machine took
    /// it first, its lines are read and the next number tried with what is
    /// still new.
    pub fn commit(&mut self, remote: &Remote, entries: &[Entry]) -> Result<Vec<bool>> {
        self.sync(remote)?;
        let ids: Vec<Identity> = entries.iter().map(Entry::identity).collect();
        let mut new = vec![false; entries.len()];
        loop {
            let mut text = Vec::new();
            let mut taken = IdentitySet::default();
            for (i, (entry, id)) in entries.iter().zip(&ids).enumerate() {
                new[i] = !self.contains(id)? && taken.insert(*id);
                if new[i] {
                    text.extend_from_slice(&jsonl::to_line(entry));
                }
            }
            if text.is_empty() {
                return Ok(new);
            }
            let n = self.state.log + 1;
            if self.publish_next(remote, text)? {
                return Ok(new);
            }
            // Another machine took number n: read it (and what followed),
            // then try again with what is still new.
            self.sync(remote)?;
            self.listed_past(n)?;
        }
    }

    /// Makes `text` the next commit, create-only: on success the copy takes
    /// it in, its log moves to it, and the packs ending at it are made.
    /// False when another machine took that number first.
    fn publish_next(&mut self, remote: &Remote, text: Vec<u8>) -> Result<bool> {
        let n = self.state.log + 1;
        if !remote.create(&commit_key(n), text.clone())? {
            return Ok(false);
        }
        let _ = self.take(&text[..])?;
        self.state.log = n;
        self.flush()?;
        if let Err(e) = self.make_packs(remote, n) {
            say!("warning: the manifest's packs ending at commit {n} were not made: {e:#}");
        }
        Ok(true)
    }

    /// After losing commit `n` to another machine and syncing: the copy
    /// must hold it now, or the bucket's listing lags behind its writes.
    fn listed_past(&self, n: u64) -> Result<()> {
        match self.state.log < n {
            true => Err(anyhow!(
                "commit {n} exists and cannot be listed: the bucket's listing lags behind its writes"
            )),
            false => Ok(()),
        }
    }

    /// Removes the entries `remove` picks from the whole manifest: from
    /// every commit, pack and segment that holds them (each rewritten
    /// without their lines), then marks the removal with a commit of its
    /// own, which makes every machine's copy read the manifest again (this
    /// one's at once). `before` is given the entries first. To be called
    /// holding the copy's lock, with writers excluded.
    pub fn remove(
        &mut self,
        remote: &Remote,
        remove: &dyn Fn(&Entry) -> bool,
        before: &mut dyn FnMut(&[Entry]) -> Result<()>,
    ) -> Result<crate::store::Removed> {
        self.sync(remote)?;
        let mut removed = crate::store::Removed::default();
        let mut gone = IdentitySet::default();
        let mut objects: BTreeMap<crate::object_id::ObjectId, bool> = BTreeMap::new();
        for line in self.copied_lines()? {
            if let jsonl::Line::Value(entry) = line?
                && remove(&entry)
            {
                gone.insert(entry.identity());
                objects.insert(entry.sha256, false);
                removed.entries.push(entry);
            }
        }
        if removed.entries.is_empty() {
            return Ok(removed);
        }
        for line in self.copied_lines()? {
            if let jsonl::Line::Value(entry) = line?
                && !gone.contains(&entry.identity())
                && let Some(named) = objects.get_mut(&entry.sha256)
            {
                *named = true;
            }
        }
        before(&removed.entries)?;
        scrub(remote, &gone)?;
        self.mark_removal(remote)?;
        self.reset()?;
        self.sync(remote)?;
        removed.unnamed = objects
            .into_iter()
            .filter(|(_, named)| !named)
            .map(|(id, _)| id)
            .collect();
        Ok(removed)
    }

    /// The copy's lines, from its start.
    fn copied_lines(&self) -> Result<jsonl::Lines<BufReader<File>, Entry>> {
        let file = self
            .file
            .try_clone()
            .context("reading the manifest's copy")?;
        let mut reader = BufReader::with_capacity(256 << 10, file);
        std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(0))
            .context("reading the manifest's copy")?;
        Ok(jsonl::Lines::new(reader, 0))
    }

    /// Makes the next commit a removal's mark (and the packs ending at it).
    fn mark_removal(&mut self, remote: &Remote) -> Result<()> {
        let mut text = REWRITTEN.to_vec();
        text.extend_from_slice(format!("\"{}\"}}\n", jiff::Timestamp::now()).as_bytes());
        loop {
            let n = self.state.log + 1;
            if self.publish_next(remote, text.clone())? {
                return Ok(());
            }
            self.sync_once(remote, false)?;
            self.listed_past(n)?;
        }
    }

    /// Makes the packs that end at commit `n`, each from the ten below it
    /// (the first level from commits). A pack another machine made first
    /// is left as it is; one that cannot be made now is only a loss of
    /// speed for later readers.
    fn make_packs(&self, remote: &Remote, n: u64) -> Result<()> {
        for (from, to) in packs_ending_at(n) {
            let size = to - from + 1;
            let parts: Vec<String> = match size {
                PACK => (from..=to).map(commit_key).collect(),
                _ => {
                    let step = size / FANOUT;
                    (0..FANOUT)
                        .map(|i| pack_key(from + i * step, from + (i + 1) * step - 1))
                        .collect()
                }
            };
            let mut text = Vec::new();
            for part in &parts {
                match remote.read(part) {
                    Ok(mut reader) => {
                        reader
                            .read_to_end(&mut text)
                            .with_context(|| format!("reading {part}"))?;
                        if !text.is_empty() && !text.ends_with(b"\n") {
                            text.push(b'\n');
                        }
                    }
                    // A part missing (a writer died before making its
                    // pack): no pack of this level, nor above it.
                    Err(_) => return Ok(()),
                }
            }
            remote.create(&pack_key(from, to), text)?;
        }
        Ok(())
    }
}

/// Takes the lines of the identities `gone` out of every pack, commit and
/// segment that holds them. Packs are read largest first, and what lies
/// within a pack found clean is not read again, so a removal reads about
/// the manifest once, plus the smaller packs and commits of the lines it
/// removes. A commit or pack left empty stays, empty (commit numbers stay
/// dense); an emptied segment of an older version is removed.
fn scrub(remote: &Remote, gone: &IdentitySet) -> Result<()> {
    let mut packs: Vec<(u64, u64)> = remote
        .list_after(PACKS, PACKS)?
        .iter()
        .filter_map(|key| pack_range(key))
        .collect();
    packs.sort_by_key(|&(from, to)| (std::cmp::Reverse(to - from), from));
    let mut clean: BTreeMap<u64, u64> = BTreeMap::new();
    let within = |clean: &BTreeMap<u64, u64>, from: u64, to: u64| {
        clean
            .range(..=from)
            .next_back()
            .is_some_and(|(_, &end)| end >= to)
    };
    for (from, to) in packs {
        if !within(&clean, from, to) && !scrub_key(remote, &pack_key(from, to), gone, false)? {
            clean.insert(from, to);
        }
    }
    for key in remote.list_after(LOG, LOG)? {
        if let Some(n) = commit_number(&key)
            && !within(&clean, n, n)
        {
            scrub_key(remote, &key, gone, false)?;
        }
    }
    for key in remote.list_segments()? {
        scrub_key(remote, &key, gone, true)?;
    }
    Ok(())
}

/// Rewrites `key` without the lines of the identities `gone`; whether it
/// held any. Emptied, it is removed when `remove_empty`.
fn scrub_key(remote: &Remote, key: &str, gone: &IdentitySet, remove_empty: bool) -> Result<bool> {
    let mut text = Vec::new();
    remote
        .read(key)?
        .read_to_end(&mut text)
        .with_context(|| format!("reading {key}"))?;
    let mut kept = Vec::with_capacity(text.len());
    let mut found = false;
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if let Ok(LineIdentity(id)) = serde_json::from_slice::<LineIdentity>(line)
            && gone.contains(&id)
        {
            found = true;
            continue;
        }
        kept.extend_from_slice(line);
        kept.push(b'\n');
    }
    match (found, kept.is_empty() && remove_empty) {
        (false, _) => {}
        (true, true) => remote.delete(key)?,
        (true, false) => remote.replace(key, kept)?,
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_end_at_multiples_of_each_level() {
        assert_eq!(packs_ending_at(99), vec![]);
        assert_eq!(packs_ending_at(100), vec![(1, 100)]);
        assert_eq!(packs_ending_at(2000), vec![(1901, 2000), (1001, 2000)]);
        assert_eq!(
            packs_ending_at(100_000),
            vec![
                (99_901, 100_000),
                (99_001, 100_000),
                (90_001, 100_000),
                (1, 100_000)
            ]
        );
    }

    #[test]
    fn keys_say_their_numbers() {
        assert_eq!(commit_number(&commit_key(42)), Some(42));
        assert_eq!(pack_range(&pack_key(101, 200)), Some((101, 200)));
        assert_eq!(commit_number("manifest/20261101T000000Z-ab.jsonl"), None);
    }
}
