//! The engine: inputs go in one at a time, stream through the one pass
//! into staged objects, wait in a batch (of one, unless per-batch
//! durability) that is published, recorded in the manifest and the files
//! cache, and reported together: nothing is reported stored before it is
//! durable. Every front end (`add`, `mms`, and the server to come) drives
//! this one engine, and hears from it through [`Events`].

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::admission::{Admission, Checked};
use crate::cache::{FileKey, FilesCache, Seen};
use crate::events::{Events, Status};
use crate::failure::Failure;
use crate::in_order::InOrder;
use crate::input::{self, Input};
use crate::manifest::{Entry, Identity, Origin};
use crate::media_type;
use crate::object_id::ObjectId;
use crate::pipeline::{INLINE_HASH_MAX, Pass, Passed, Sink, Source, StoreWriter};
use crate::policy::Policy;
use crate::sniff;
use crate::sniff::Kind;
use crate::store::{Backend, Committed, Stager};
use crate::walk::{self, Found, WalkOptions};

mod walked;
use walked::Walked;

pub const STDIN: &str = "-";

/// A batch is published when it holds this many objects...
const BATCH_OBJECTS: usize = 256;
/// ...or this many bytes, whichever comes first.
const BATCH_BYTES: u64 = 256 << 20;
/// ...or once its oldest input has waited this long, so that a slow trickle
/// of inputs is still recorded every minute.
const BATCH_AGE: Duration = Duration::from_secs(60);

/// How a run behaves, beyond which inputs it reads.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub durability: Durability,
    pub dry_run: bool,
    pub policy: Policy,
    /// `--sha256`: the one input must hash to this.
    pub expected: Option<ObjectId>,
    /// `--content-type`: what the source says the input is.
    pub declared_mime: Option<String>,
    /// Draw no progress bar per input (the caller draws one for a backup).
    pub no_input_progress: bool,
}

/// When objects are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Each object before its manifest line.
    #[default]
    PerInput,
    /// A batch of objects at once, before the batch's manifest lines, by
    /// one `syncfs` of the whole filesystem.
    PerBatch,
    /// A batch at once by syncing its own files and folders side by side
    /// (group commit): as fast as a batch on a quiet machine, and it
    /// flushes nobody else's writes. A lone input is synced on its own.
    Grouped,
}

/// The run stopped because the store failed ([`Failure::Store`]: disk
/// full, no permission, a damaged store). The cause has gone to
/// [`Events::failed`] already; the command line exits with `Exit::Fatal`,
/// a server answers that request with an error and goes on.
#[derive(Debug)]
pub struct Stopped;

/// What is known of an input besides its bytes, recorded in its entry.
#[derive(Debug, Clone)]
pub struct Described {
    pub name: OsString,
    /// The absolute path read, or `-`.
    pub source: OsString,
    /// What the source says the input is (`--content-type`, a part's ct).
    pub declared_mime: Option<String>,
    pub origin: Option<Origin>,
    /// The SHA-256 the input must have (`--sha256`, a request's digest).
    pub expected: Option<ObjectId>,
    /// Where it stood in its tree (see [`Entry::path`]); None: its name.
    pub path: Option<OsString>,
}

/// An input read to its end and staged (unless a dry run), not yet queued.
pub struct Streamed<S> {
    staged: Option<S>,
    passed: Passed,
    /// What admission said while it streamed (with what to tell the user
    /// about this input, once it is its turn).
    checked: Checked,
    /// Set when the file goes into the files cache once recorded.
    cache_key: Option<Seen>,
}

impl<S> Streamed<S> {
    pub fn size(&self) -> u64 {
        self.passed.size
    }

    /// The type the bytes show, if any matcher knew them.
    pub fn sniffed(&self) -> Option<&Kind> {
        self.passed.sniffed.as_ref()
    }
}

/// An input read and staged, waiting for its batch to be published.
struct Pending<S> {
    shown: OsString,
    staged: Option<S>,
    entry: Entry,
    /// Set when the file goes into the files cache once recorded.
    cache_key: Option<Seen>,
}

/// A run of `ingest add`: inputs go in one at a time, and come out
/// published, recorded and reported in batches.
pub struct Ingest<B: Backend, E: Events> {
    store: B,
    streamer: Streamer<B::Stager>,
    pass: Pass,
    /// Small files streamed on other cores, taken back in walk order.
    side: Side<B::Staged>,
    /// Where outcomes, warnings and progress go (the reporter, for the
    /// command line).
    pub events: E,
    cache: Option<FilesCache>,
    batch: Vec<Pending<B::Staged>>,
    batch_bytes: u64,
    /// When the oldest input in the batch was queued.
    batch_since: Option<Instant>,
    settings: Arc<Settings>,
    /// What a dry run has pretended to store so far.
    previewed: HashSet<Identity>,
    previewed_ids: HashSet<ObjectId>,
    /// The folder being walked, while deletions can be told from it.
    walked: Option<Walked>,
}

/// The threads that stream small files side by side: not started until a
/// walk meets more than one small file, never on a single core.
enum Side<S: Send + 'static> {
    NotStarted,
    Running(InOrder<SideJob, SideDone<S>>),
    Unavailable,
}

/// A small file for a side thread, opened and described by the main one.
struct SideJob {
    shown: OsString,
    file: File,
    key: FileKey,
    size: u64,
    described: Described,
    hint: Kind,
}

/// A small file back from a side thread: its name, what is known of it,
/// and how streaming it went.
type SideDone<S> = (OsString, Described, Result<Streamed<S>, Failure>);

/// Small files in flight on the side threads, at most: each holds an open
/// input and a staged object. Enough that, while this thread commits a
/// batch (and waits for the disk to flush it), the side threads work
/// through a backlog of the next batch's files rather than stand idle.
const SIDE_IN_FLIGHT: u64 = 128;

/// Everything streaming an input needs besides the store itself, so that
/// the side threads (and a server's uploads) can each hold a copy.
#[derive(Clone)]
pub struct Streamer<St> {
    settings: Arc<Settings>,
    stager: St,
    caching: bool,
    /// When the run started: a file changed after that is not cached.
    started_ns: i128,
}

impl<St: Stager> Streamer<St> {
    /// Streams one described input on the caller's thread with the
    /// caller's pass, into a staged object made durable there, which
    /// [`Ingest::commit_streamed`] then publishes: how many uploads stream
    /// (and sync) side by side while one engine commits them.
    pub fn stream_described(
        &self,
        pass: &mut Pass,
        input: Source<'_>,
        size: Option<u64>,
        described: &Described,
    ) -> Result<Streamed<St::Staged>, Failure> {
        let hint = fallback_kind(&described.name, described.declared_mime.as_deref());
        let mut streamed = self.stream(pass, None, input, size, Some(hint), None)?;
        if let Some(staged) = streamed.staged.as_mut() {
            self.stager.make_durable(staged).map_err(Failure::Store)?;
        }
        Ok(streamed)
    }

    /// The one pass over a file met in a walk or named: wherever it
    /// streams (here, or on a side thread), this is the one way.
    fn stream_file(
        &self,
        pass: &mut Pass,
        progress: Option<&mut (dyn Sink + 'static)>,
        job: &SideJob,
    ) -> Result<Streamed<St::Staged>, Failure> {
        let file = &job.file;
        let (size, hint) = (Some(job.size), Some(job.hint.clone()));
        self.stream(
            pass,
            progress,
            Source::Read(&mut &*file),
            size,
            hint,
            Some((file, job.key)),
        )
    }

    /// The one pass over an input: into a staged object, or (dry run)
    /// nowhere. `file` is the regular file behind `reader`, to notice a
    /// change mid-read and to key the files cache.
    fn stream(
        &self,
        pass: &mut Pass,
        progress: Option<&mut (dyn Sink + 'static)>,
        input: Source<'_>,
        size: Option<u64>,
        hint: Option<Kind>,
        file: Option<(&File, FileKey)>,
    ) -> Result<Streamed<St::Staged>, Failure> {
        let policy = &self.settings.policy;
        let mut admission = Admission::begin(policy, hint.map(|k| k.mime))?;
        let mut staged = match self.settings.dry_run {
            true => None,
            false => Some(
                match file {
                    Some((file, _)) => self.stager.stage_file(file, size.unwrap_or(0)),
                    None => self.stager.stage(),
                }
                .map_err(Failure::Store)?,
            ),
        };
        let mut writer = staged.as_mut().map(|s| StoreWriter(s));
        // Admission first, then the writer: a refused chunk is never written.
        let mut sinks: Vec<&mut dyn Sink> = Vec::with_capacity(3);
        sinks.push(&mut admission);
        if let Some(writer) = writer.as_mut() {
            sinks.push(writer);
        }
        if let Some(progress) = progress {
            sinks.push(progress);
        }
        let passed = pass.run_sized(input, size, &mut sinks)?;
        drop(sinks);
        let mut checked = admission.checked();
        let cache_key =
            file.and_then(|(file, before)| self.cacheable(file, before, &mut checked.warnings));
        Ok(Streamed {
            staged,
            passed,
            checked,
            cache_key,
        })
    }

    /// What the files cache keeps of a file read: its key, trusted if it
    /// did not change while read and has not changed too recently to trust
    /// its times (else kept only to know the file was there).
    fn cacheable(&self, file: &File, before: FileKey, warnings: &mut Vec<String>) -> Option<Seen> {
        let after = file.metadata().map(|m| FileKey::of(&m)).ok()?;
        let changed = after.size != before.size || after.mtime_ns != before.mtime_ns;
        if changed {
            warnings.push("changed while being read; stored as read, not cached".into());
        }
        if !self.caching {
            return None;
        }
        let trusted = !changed && after.is_settled(self.started_ns);
        Some(Seen {
            key: after,
            trusted,
        })
    }
}

impl<B: Backend, E: Events> Ingest<B, E> {
    pub fn new(mut store: B, events: E, mut settings: Settings, cache: Option<FilesCache>) -> Self {
        if store.records_in_batches() {
            settings.durability = Durability::PerBatch;
        }
        store.sync_batches_alone(settings.durability == Durability::Grouped);
        let settings = Arc::new(settings);
        let streamer = Streamer {
            settings: Arc::clone(&settings),
            stager: store.stager(),
            caching: cache.is_some(),
            started_ns: now_ns(),
        };
        Ingest {
            store,
            streamer,
            pass: Pass::new(),
            side: Side::NotStarted,
            events,
            cache,
            batch: Vec::new(),
            batch_bytes: 0,
            batch_since: None,
            settings,
            previewed: HashSet::new(),
            previewed_ids: HashSet::new(),
            walked: None,
        }
    }

    /// The store this engine writes into (a server pauses and resumes its
    /// hold on it between uploads).
    pub fn store_mut(&mut self) -> &mut B {
        &mut self.store
    }

    /// A copy of what streams inputs, to stream them on other threads.
    pub fn streamer(&self) -> Streamer<B::Stager> {
        self.streamer.clone()
    }

    /// Stores one opened input (a library caller's, or standard input).
    pub fn add_input(&mut self, shown: &OsStr, input: Input) -> Result<(), Stopped> {
        self.add(shown, Ok(input))
    }

    /// Stores every input named (`-` standing for standard input, read as
    /// `stdin_name`), walking folders; publishes what is left at the end.
    pub fn run(
        &mut self,
        inputs: &[OsString],
        walk_options: &WalkOptions,
        stdin_name: &OsStr,
    ) -> Result<(), Stopped> {
        for given in inputs {
            if given == STDIN {
                let opened = input::open_stdin(stdin_name);
                self.add(given, opened)?;
                continue;
            }
            // Paths are recorded from the folder above what was named, so
            // the named folder's own name comes first.
            let base = tree_base(Path::new(given));
            self.begin_walk(Path::new(given), base.as_deref(), walk_options)?;
            for found in walk::expand(Path::new(given), walk_options) {
                match found {
                    Found::File {
                        shown,
                        source,
                        meta,
                    } => {
                        if let Some(walked) = self.walked.as_mut() {
                            walked.found(&source);
                        }
                        self.add_file(&shown, source, meta, base.as_deref())?
                    }
                    Found::Skipped { shown, why, warn } => {
                        self.events.skipped(shown.as_os_str(), &why, warn)
                    }
                    Found::Failed { shown, error } => {
                        if let Some(walked) = self.walked.as_mut() {
                            walked.complete = false;
                        }
                        self.events
                            .failed(shown.as_os_str(), &Failure::Input(error))
                    }
                }
            }
            self.end_walk()?;
        }
        self.take_side_results(0)?;
        self.flush()
    }

    /// A file named on the command line (`meta` None) or met in a walk.
    fn add_file(
        &mut self,
        shown: &Path,
        source: PathBuf,
        meta: Option<Metadata>,
        base: Option<&Path>,
    ) -> Result<(), Stopped> {
        if let Some(meta) = &meta
            && self.is_unchanged(shown, &source, &FileKey::of(meta))
        {
            return Ok(());
        }
        let opened = if meta.is_some() {
            input::open_regular(&source).map(|(file, meta)| (file, meta, source))
        } else {
            input::open_named(shown)
        };
        let (file, meta, source) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                self.events
                    .failed(shown.as_os_str(), &Failure::Input(error));
                return Ok(());
            }
        };
        let key = FileKey::of(&meta);
        // A file named on the command line (a cron job's glob) is known by
        // its open descriptor's key: still not read.
        if self.is_unchanged(shown, &source, &key) {
            return Ok(());
        }
        let mut described = self.describe(walk::name_of(&source), source.into_os_string());
        described.path = base.and_then(|base| tree_path(base, Path::new(&described.source)));
        let hint = fallback_kind(&described.name, described.declared_mime.as_deref());
        let job = SideJob {
            shown: shown.as_os_str().to_owned(),
            file,
            key,
            size: meta.len(),
            described,
            hint,
        };
        if job.size <= INLINE_HASH_MAX {
            return self.stream_beside(job);
        }
        // In walk order: what the side threads hold goes first.
        self.take_side_results(0)?;
        let mut progress = self.progress_for(&job.shown, Some(job.size));
        let streamed = self
            .streamer
            .stream_file(&mut self.pass, progress.as_deref_mut(), &job);
        drop(progress);
        self.take_streamed(&job.shown, streamed, job.described)
    }

    /// Reports the file `unchanged` if the files cache knows it as it is
    /// and the store still holds what it was stored as: its manifest line
    /// and its object. The cache never outranks the store; when the store
    /// lost either (or cannot say), the file is read and stored again.
    fn is_unchanged(&mut self, shown: &Path, source: &Path, key: &FileKey) -> bool {
        let Some(record) = self
            .cache
            .as_ref()
            .and_then(|c| c.lookup(source.as_os_str(), key))
        else {
            return false;
        };
        let entry = record.entry(&walk::name_of(source));
        if !self.store.holds(&entry).unwrap_or(false) {
            return false;
        }
        self.events
            .stored(shown.as_os_str(), Status::Unchanged, &entry);
        true
    }

    /// Hands a small file to the side threads (or, on one core, streams
    /// it here), taking back what they have finished once enough is in
    /// flight.
    fn stream_beside(&mut self, job: SideJob) -> Result<(), Stopped> {
        if let Side::NotStarted = self.side {
            self.side = self.start_side();
        }
        let Side::Running(side) = &mut self.side else {
            let streamed = self.streamer.stream_file(&mut self.pass, None, &job);
            return self.take_streamed(&job.shown, streamed, job.described);
        };
        side.submit(job);
        self.take_side_results(SIDE_IN_FLIGHT)
    }

    fn start_side(&self) -> Side<B::Staged> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 {
            return Side::Unavailable;
        }
        let streamer = self.streamer.clone();
        let queue = SIDE_IN_FLIGHT as usize;
        let started = InOrder::start(cores.min(4), queue, "stream", || {
            let streamer = streamer.clone();
            let mut pass = Pass::new();
            move |job: SideJob| {
                let streamed = streamer.stream_file(&mut pass, None, &job);
                (job.shown, job.described, streamed)
            }
        });
        match started {
            Ok(pool) => Side::Running(pool),
            Err(_) => Side::Unavailable,
        }
    }

    /// Takes back the side threads' results, oldest first, until at most
    /// `keep` are in flight.
    fn take_side_results(&mut self, keep: u64) -> Result<(), Stopped> {
        loop {
            let Side::Running(side) = &mut self.side else {
                return Ok(());
            };
            if side.in_flight() <= keep {
                return Ok(());
            }
            let Some((shown, described, streamed)) = side.take_oldest() else {
                return Ok(());
            };
            self.take_streamed(&shown, streamed, described)?;
        }
    }

    /// Reports what streaming said, then queues the input or fails it.
    /// Queues an input streamed elsewhere (or its failure) for the next
    /// [`flush`](Self::flush), which reports it to the events.
    pub fn take_streamed(
        &mut self,
        shown: &OsStr,
        streamed: Result<Streamed<B::Staged>, Failure>,
        described: Described,
    ) -> Result<(), Stopped> {
        match streamed {
            Ok(mut streamed) => {
                for warning in std::mem::take(&mut streamed.checked.warnings) {
                    self.events.warning(shown, &warning);
                }
                let cache_key = streamed.cache_key.take();
                self.queue(shown, streamed, described, cache_key)
            }
            Err(failure) => self.fail(shown, failure),
        }
    }

    fn describe(&self, name: OsString, source: OsString) -> Described {
        Described {
            name,
            source,
            declared_mime: self.settings.declared_mime.clone(),
            origin: None,
            expected: self.settings.expected,
            path: None,
        }
    }

    fn progress_for(&mut self, shown: &OsStr, size: Option<u64>) -> Option<Box<dyn Sink>> {
        match self.settings.no_input_progress {
            true => None,
            false => self.events.progress(shown, size),
        }
    }

    /// Streams one opened input (standard input, a library caller's) into
    /// a staged object and queues it.
    fn add(&mut self, shown: &OsStr, opened: Result<Input>) -> Result<(), Stopped> {
        self.take_side_results(0)?;
        let mut input = match opened {
            Ok(input) => input,
            Err(error) => return self.fail(shown, Failure::Input(error)),
        };
        let described = self.describe(input.name, input.source);
        let hint = fallback_kind(&described.name, described.declared_mime.as_deref());
        let mut progress = self.progress_for(shown, input.size);
        let streamed = self.streamer.stream(
            &mut self.pass,
            progress.as_deref_mut(),
            Source::Read(&mut input.reader),
            input.size,
            Some(hint),
            None,
        );
        drop(progress);
        self.take_streamed(shown, streamed, described)
    }

    /// The one pass over an input: into a staged object, or (dry run)
    /// nowhere. `hint` is the type to judge if the bytes show none, when it
    /// is known before the input is read; else the type is judged in
    /// [`Ingest::admit`].
    pub fn stream(
        &mut self,
        shown: &OsStr,
        reader: &mut dyn Read,
        size: Option<u64>,
        hint: Option<Kind>,
    ) -> Result<Streamed<B::Staged>, Failure> {
        let mut progress = self.progress_for(shown, size);
        let mut streamed = self.streamer.stream(
            &mut self.pass,
            progress.as_deref_mut(),
            Source::Read(reader),
            size,
            hint,
            None,
        )?;
        for warning in std::mem::take(&mut streamed.checked.warnings) {
            self.events.warning(shown, &warning);
        }
        Ok(streamed)
    }

    /// Queues a streamed input under what is known of it, once the checks
    /// that need the whole input have passed.
    pub fn admit(
        &mut self,
        shown: &OsStr,
        streamed: Streamed<B::Staged>,
        described: Described,
    ) -> Result<(), Stopped> {
        self.queue(shown, streamed, described, None)
    }

    fn queue(
        &mut self,
        shown: &OsStr,
        streamed: Streamed<B::Staged>,
        described: Described,
        cache_key: Option<Seen>,
    ) -> Result<(), Stopped> {
        let passed = &streamed.passed;
        let mut entry = entry_for(&described, passed);
        let policy = &self.settings.policy;
        match streamed
            .checked
            .conclude(policy, passed, &entry.mime, described.expected)
        {
            Ok(scanned) => entry.scanned = scanned,
            Err(rejection) => return self.fail(shown, Failure::Rejected(rejection)),
        }
        self.warn_on_type_disagreement(shown, &described.name, passed, &entry);
        self.batch_bytes += entry.size;
        self.batch.push(Pending {
            shown: shown.to_owned(),
            staged: streamed.staged,
            entry,
            cache_key,
        });
        let since = *self.batch_since.get_or_insert_with(Instant::now);
        let full = self.batch.len() >= BATCH_OBJECTS
            || self.batch_bytes >= BATCH_BYTES
            || since.elapsed() >= BATCH_AGE;
        if self.settings.durability == Durability::PerInput || full {
            self.flush()?;
        }
        Ok(())
    }

    /// Says so when the bytes contradict what the source declared or what
    /// the name's extension suggests (a `.jpg` that is a PNG).
    fn warn_on_type_disagreement(
        &mut self,
        shown: &OsStr,
        name: &OsStr,
        passed: &Passed,
        entry: &Entry,
    ) {
        if let Some(declared) = &entry.declared_mime {
            self.events.warning(
                shown,
                &format!("declared {declared}, but the bytes are {}", entry.mime),
            );
        }
        if let (Some(kind), Some(ext)) = (&passed.sniffed, sniff::name_extension(name))
            && !sniff::extension_fits(&ext, kind)
        {
            self.events.warning(
                shown,
                &format!("named .{ext}, but the bytes are {}", kind.mime),
            );
        }
    }

    /// Publishes the batch, records it, updates the cache, and reports.
    pub fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        self.batch_since = None;
        let outcome = if self.settings.dry_run {
            self.preview(&batch)
                .map(|statuses| statuses.into_iter().map(Ok).collect())
        } else {
            self.commit(&mut batch)
        };
        match outcome {
            Ok(outcomes) => {
                for (pending, outcome) in batch.iter().zip(outcomes) {
                    if let (Some(walked), Ok(Status::Unchanged), Some(_)) =
                        (self.walked.as_mut(), &outcome, pending.cache_key)
                    {
                        walked.found_again(&pending.entry);
                    }
                    match outcome {
                        Ok(status) => self.events.stored(&pending.shown, status, &pending.entry),
                        Err(failure) => self.events.failed(&pending.shown, &failure),
                    }
                }
                Ok(())
            }
            Err(failure) => {
                for pending in &batch {
                    self.events.failed(&pending.shown, &failure);
                }
                Err(Stopped)
            }
        }
    }

    /// Publishes the staged objects, then appends their manifest lines and
    /// cache records: in that order, so no line names a missing object.
    /// An input that changed before its upload read it again is reported
    /// failed alone, with nothing stored or recorded for it.
    fn commit(
        &mut self,
        batch: &mut [Pending<B::Staged>],
    ) -> Result<Vec<Result<Status, Failure>>, Failure> {
        let staged = batch
            .iter_mut()
            .filter_map(|p| p.staged.take().map(|s| (s, p.entry.sha256)))
            .collect();
        let committed = self.store.publish(staged).map_err(Failure::Store)?;
        for (pending, done) in batch.iter_mut().zip(&committed) {
            pending.entry.new = *done == Committed::New;
        }
        let kept = || {
            batch
                .iter()
                .zip(&committed)
                .filter(|(_, done)| **done != Committed::Changed)
                .map(|(pending, _)| pending)
        };
        let entries: Vec<Entry> = kept().map(|p| p.entry.clone()).collect();
        let to_cache: Vec<(Seen, Entry)> = kept()
            .filter_map(|p| p.cache_key.map(|key| (key, p.entry.clone())))
            .collect();
        let cache = &mut self.cache;
        let events = &mut self.events;
        let mut update_cache = || {
            if let Some(cache) = cache.as_mut()
                && let Err(e) = cache.append(&to_cache)
            {
                // Only a speed-up: the files are read again next time.
                let what = format!("not updated: {e:#}");
                events.warning(OsStr::new("files cache"), &what);
            }
            Ok(())
        };
        let mut appended = self
            .store
            .record(&entries, &mut update_cache)
            .map_err(Failure::Store)?
            .into_iter();
        Ok(committed
            .iter()
            .map(|done| match done {
                Committed::Changed => Err(Failure::Input(anyhow::anyhow!(
                    "changed after it was read, before its upload read it again; \
                     nothing stored (run again to store it as it is now)"
                ))),
                Committed::New => {
                    appended.next();
                    Ok(Status::New)
                }
                Committed::AlreadyPresent => match appended.next() {
                    Some(true) => Ok(Status::Duplicate),
                    _ => Ok(Status::Unchanged),
                },
            })
            .collect())
    }

    /// What a run without `--dry-run` would do with the batch.
    fn preview(&mut self, batch: &[Pending<B::Staged>]) -> Result<Vec<Status>, Failure> {
        batch
            .iter()
            .map(|pending| {
                let entry = &pending.entry;
                let stored = !self.previewed_ids.insert(entry.sha256)
                    || self.store.has_object(&entry.sha256)?;
                let recorded = stored
                    && (!self.previewed.insert(entry.identity())
                        || self.store.is_recorded(entry)?);
                Ok(match (stored, recorded) {
                    (false, _) => Status::New,
                    (true, false) => Status::Duplicate,
                    (true, true) => Status::Unchanged,
                })
            })
            .collect::<Result<_>>()
            .map_err(Failure::Store)
    }

    /// Reports an input that failed; a store failure stops the run.
    pub fn fail(&mut self, shown: &OsStr, failure: Failure) -> Result<(), Stopped> {
        self.events.failed(shown, &failure);
        if failure.is_fatal() {
            // What is staged already is published: it was read whole.
            let _ = self.flush();
            return Err(Stopped);
        }
        Ok(())
    }
}

/// The type to record when no matcher knows the bytes: what the source
/// declared, else what the name's extension suggests, else octet-stream.
pub fn fallback_kind(name: &OsStr, declared: Option<&str>) -> Kind {
    let ext = sniff::name_extension(name).unwrap_or_default();
    match (
        declared.and_then(media_type::clean),
        sniff::kind_from_name(name),
    ) {
        (Some(mime), _) => Kind { mime, ext },
        (None, Some(kind)) => kind,
        (None, None) => Kind {
            mime: "application/octet-stream".to_owned(),
            ext,
        },
    }
}

/// The folder a named input's tree paths are taken from: the one above it
/// (a named folder's own name is the first component; a named file's path
/// is its name). None when it cannot be resolved.
fn tree_base(given: &Path) -> Option<PathBuf> {
    let resolved = std::fs::canonicalize(given).ok()?;
    Some(resolved.parent().unwrap_or(&resolved).to_path_buf())
}

/// `source` as a `/`-separated path below `base`; None when it is not
/// below it (a link followed out of the tree).
fn tree_path(base: &Path, source: &Path) -> Option<OsString> {
    let relative = source.strip_prefix(base).ok()?;
    let mut path = OsString::new();
    for (i, part) in relative.components().enumerate() {
        let std::path::Component::Normal(part) = part else {
            return None;
        };
        if i > 0 {
            path.push("/");
        }
        path.push(part);
    }
    (!path.is_empty()).then_some(path)
}

/// The manifest entry for a streamed input (its `new` flag set on commit):
/// the type the bytes show, else the declared one, else the name's.
fn entry_for(described: &Described, passed: &Passed) -> Entry {
    let declared = described.declared_mime.as_deref();
    let kind = match &passed.sniffed {
        Some(kind) => kind.clone(),
        None => fallback_kind(&described.name, declared),
    };
    let declared_mime = declared
        .and_then(media_type::clean)
        .filter(|d| passed.sniffed.is_some() && *d != kind.mime);
    let mut entry = Entry::new(
        passed.id,
        passed.size,
        kind,
        &described.name,
        &described.source,
        now_rfc3339(),
    );
    entry.declared_mime = declared_mime;
    entry.origin = described.origin.clone();
    if let Some(path) = &described.path {
        entry.set_path(path);
    }
    entry
}

/// The current time, RFC 3339 in UTC, to the second.
fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

fn now_ns() -> i128 {
    jiff::Timestamp::now().as_nanosecond()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Tally;
    use crate::store::LocalStore;
    use crate::testing::FailsAfter;

    #[test]
    fn a_read_error_mid_stream_leaves_nothing_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open_or_create(dir.path()).unwrap();
        let mut ingest = Ingest::new(store, Tally::default(), Settings::default(), None);
        let input = Input {
            name: "broken.mp4".into(),
            source: "/media/card/broken.mp4".into(),
            size: None,
            reader: Box::new(FailsAfter { good: 1_000_000 }),
        };
        ingest.add_input(OsStr::new("broken.mp4"), input).unwrap();
        ingest.flush().unwrap();
        assert_eq!(ingest.events.failed, 1);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("objects"))
                .unwrap()
                .count(),
            0
        );
        let manifest = dir.path().join("manifest.jsonl");
        assert!(!manifest.exists() || std::fs::read(&manifest).unwrap().is_empty());
    }
}
