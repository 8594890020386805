//! The server's side of the engine: uploads stream side by side, each on a
//! blocking thread with a pass of its own, and one engine commits them: the
//! uploads that finished streaming while a commit was under way go in
//! together as the next one (one manifest append, one S3 commit), so a
//! crowd of uploads costs a commit per turn, not per upload, and none waits
//! longer than the commit before its own. Each upload's outcome comes back
//! as a [`FileReport`].

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::engine::{Described, Ingest, Streamer};
use crate::events::{Events, Status};
use crate::failure::Rejection;
use crate::failure::{Failure, io_kinds};
use crate::manifest::Entry;
use crate::pipeline::{Chunks, Pass, Sink, Source};
use crate::store::Backend;

/// What became of one uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fate {
    New,
    Duplicate,
    Rejected,
    Failed,
}

/// What one file of a request came to, as the client is told.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub name: String,
    pub status: Fate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Why it was rejected, in the words `--json` gives machines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// What went wrong, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// For a duplicate: when the store first got these bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_since: Option<String>,
    /// The HTTP status this file alone would be answered with.
    #[serde(skip)]
    pub http: u16,
}

impl FileReport {
    fn stored(name: &str, status: Status, entry: &Entry) -> Self {
        let (status, http) = match status {
            Status::New => (Fate::New, 201),
            _ => (Fate::Duplicate, 200),
        };
        FileReport {
            name: name.to_owned(),
            status,
            sha256: Some(entry.sha256.to_string()),
            size: Some(entry.size),
            mime: Some(entry.mime.clone()),
            reason: None,
            error: None,
            warnings: Vec::new(),
            stored_since: None,
            http,
        }
    }

    /// A file that did not go in, with the HTTP status that says why.
    pub fn failed(name: &str, failure: &Failure) -> Self {
        let (status, reason, http) = match failure {
            Failure::Rejected(rejection) => {
                let http = match rejection {
                    Rejection::TooLarge { .. } => 413,
                    Rejection::TypeDenied { .. } => 415,
                    Rejection::Blocked { .. } => 403,
                    Rejection::HashMismatch { .. } | Rejection::Infected { .. } => 422,
                };
                (Fate::Rejected, Some(rejection.reason()), http)
            }
            // Scans fail closed: try again when clamd is back.
            Failure::Scan(_) => (Fate::Failed, None, 503),
            Failure::Store(error) if is_disk_full(error) => (Fate::Failed, None, 507),
            Failure::Store(_) => (Fate::Failed, None, 500),
            Failure::Input(error) if is_timeout(error) => (Fate::Failed, None, 408),
            Failure::Input(_) => (Fate::Failed, None, 400),
        };
        FileReport {
            name: name.to_owned(),
            status,
            sha256: None,
            size: None,
            mime: None,
            reason,
            error: Some(failure.to_string()),
            warnings: Vec::new(),
            stored_since: None,
            http,
        }
    }

    pub fn went_in(&self) -> bool {
        self.http < 300
    }
}

fn is_disk_full(error: &anyhow::Error) -> bool {
    io_kinds(error).any(|k| matches!(k, io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded))
}

fn is_timeout(error: &anyhow::Error) -> bool {
    io_kinds(error).any(|k| k == io::ErrorKind::TimedOut)
}

/// The engine's events, by upload: the engine names each upload by a key
/// of its own (`N:name`), since a commit takes in several, and two may
/// have one name.
#[derive(Default)]
pub struct Outcomes {
    reports: HashMap<String, FileReport>,
    warnings: HashMap<String, Vec<String>>,
}

/// The name an upload's key stands for.
fn name_of(key: &str) -> &str {
    key.split_once(':').map_or(key, |(_, name)| name)
}

impl Outcomes {
    fn take(&mut self, key: &str) -> FileReport {
        let name = name_of(key);
        let mut report = self.reports.remove(key).unwrap_or_else(|| {
            let failure = Failure::Store(anyhow::anyhow!("the engine said nothing of it"));
            FileReport::failed(name, &failure)
        });
        report.name = name.to_owned();
        report.warnings = self.warnings.remove(key).unwrap_or_default();
        report
    }
}

impl Events for Outcomes {
    fn stored(&mut self, shown: &OsStr, status: Status, entry: &Entry) {
        let key = shown.to_string_lossy().into_owned();
        tracing::debug!(name = %name_of(&key), status = status.as_str(), sha256 = %entry.sha256, "stored");
        let report = FileReport::stored(name_of(&key), status, entry);
        self.reports.insert(key, report);
    }

    fn failed(&mut self, shown: &OsStr, failure: &Failure) {
        let key = shown.to_string_lossy().into_owned();
        match failure {
            Failure::Store(_) | Failure::Scan(_) => {
                tracing::error!(name = %name_of(&key), "{failure}")
            }
            _ => tracing::debug!(name = %name_of(&key), "{failure}"),
        }
        let report = FileReport::failed(name_of(&key), failure);
        self.reports.insert(key, report);
    }

    fn skipped(&mut self, _shown: &OsStr, _why: &str, _warn: bool) {}

    fn warning(&mut self, shown: &OsStr, what: &str) {
        let key = shown.to_string_lossy().into_owned();
        self.warnings.entry(key).or_default().push(what.to_owned());
    }

    fn note(&mut self, _shown: &OsStr, _what: &str) {}

    fn progress(&mut self, _shown: &OsStr, _size: Option<u64>) -> Option<Box<dyn Sink>> {
        None
    }

    fn reading(&mut self, _shown: &OsStr, _size: Option<u64>) -> Box<dyn FnMut(u64)> {
        Box::new(|_| {})
    }
}

/// What a handler needs of the engine, whatever the store: a trait object,
/// so the HTTP code is not generic over the store.
pub trait Receive: Send + Sync {
    /// Streams one upload through the pass (on the calling thread, which
    /// may block), taking its body's chunks as they came, and commits it.
    fn receive(&self, body: &mut dyn Chunks, size: Option<u64>, described: Described)
    -> FileReport;
}

/// The engine of a server: a streamer each upload copies, passes to reuse,
/// and the engine that commits.
pub struct Engine<B: Backend> {
    streamer: Mutex<Streamer<B::Stager>>,
    passes: Mutex<Passes>,
    ingest: Mutex<Committer<B>>,
    /// Uploads streamed and waiting for the next commit.
    waiting: Mutex<Vec<Waiting<B::Staged>>>,
    /// Numbers uploads, for their keys.
    uploads: AtomicU64,
}

/// An upload streamed, waiting to be committed.
struct Waiting<S> {
    key: String,
    streamed: Result<crate::engine::Streamed<S>, Failure>,
    described: Described,
}

/// The passes uploads stream through. One per core may hand a long
/// upload's hash to a thread of its own, so a few large uploads hash and
/// write at once; the rest hash on the upload's thread, where a crowd's
/// parallelism is its many uploads and a thread each would only cost
/// memory and hand-offs.
struct Passes {
    threaded: Vec<Pass>,
    inline: Vec<Pass>,
    /// Inline passes kept for reuse, at most: one per upload allowed at once.
    keep_inline: usize,
}

impl Passes {
    fn new(keep_inline: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Passes {
            threaded: (0..cores).map(|_| Pass::new()).collect(),
            inline: Vec::new(),
            keep_inline,
        }
    }

    /// A threaded pass if one is free, an inline one if not.
    fn take(&mut self) -> Pass {
        self.threaded
            .pop()
            .or_else(|| self.inline.pop())
            .unwrap_or_else(Pass::inline)
    }

    fn give_back(&mut self, pass: Pass) {
        if !pass.is_inline_only() {
            self.threaded.push(pass);
        } else if self.inline.len() < self.keep_inline {
            self.inline.push(pass);
        }
    }
}

/// The engine that commits, and how many uploads are under way: the
/// store is held as a writer's only while one is (so `gc --orphans` runs
/// when the server is idle, and never beside an upload).
pub struct Committer<B: Backend> {
    ingest: Ingest<B, Outcomes>,
    in_flight: usize,
    /// Reports of uploads another upload's turn committed, by key.
    done: HashMap<String, FileReport>,
}

impl<B: Backend> Engine<B> {
    /// The engine over a store opened for writing; its writer's hold is let
    /// go until the first upload.
    pub fn new(mut ingest: Ingest<B, Outcomes>, keep_passes: usize) -> Self {
        ingest.store_mut().pause_writing();
        Engine {
            streamer: Mutex::new(ingest.streamer()),
            passes: Mutex::new(Passes::new(keep_passes)),
            ingest: Mutex::new(Committer {
                ingest,
                in_flight: 0,
                done: HashMap::new(),
            }),
            waiting: Mutex::new(Vec::new()),
            uploads: AtomicU64::new(0),
        }
    }

    /// An upload begins: the store is held as a writer's from now on.
    fn enter(&self, name: &str) -> Result<(), FileReport> {
        let mut committer = self
            .ingest
            .lock()
            .map_err(|_| FileReport::failed(name, &poisoned()))?;
        if committer.in_flight == 0
            && let Err(e) = committer.ingest.store_mut().resume_writing()
        {
            tracing::warn!("{e:#}");
            let mut report = FileReport::failed(name, &Failure::Store(e));
            // A gc is removing orphans: a passing state, not a failure.
            report.http = 503;
            return Err(report);
        }
        committer.in_flight += 1;
        Ok(())
    }
}

impl<B: Backend> Committer<B> {
    /// Commits the uploads waiting, together, and keeps their reports.
    fn commit(&mut self, batch: Vec<Waiting<B::Staged>>) {
        let keys: Vec<String> = batch.iter().map(|w| w.key.clone()).collect();
        for waiting in batch {
            let key = OsStr::new(&waiting.key);
            // A store failure is reported through the events; the server
            // goes on, and the next commit tries the store again.
            let _ = self
                .ingest
                .take_streamed(key, waiting.streamed, waiting.described);
        }
        let _ = self.ingest.flush();
        for key in keys {
            let report = self.ingest.events.take(&key);
            self.done.insert(key, report);
        }
    }

    /// An upload ended (committed or not): the last one lets go of the store.
    fn leave(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.ingest.store_mut().pause_writing();
        }
    }
}

impl<B> Receive for Engine<B>
where
    B: Backend + Send,
    B::Stager: Send,
{
    fn receive(
        &self,
        body: &mut dyn Chunks,
        size: Option<u64>,
        described: Described,
    ) -> FileReport {
        let name = described.name.to_string_lossy().into_owned();
        let streamer = match self.streamer.lock() {
            Ok(streamer) => streamer.clone(),
            Err(_) => return FileReport::failed(&name, &poisoned()),
        };
        if let Err(busy) = self.enter(&name) {
            return busy;
        }
        let mut pass = match self.passes.lock() {
            Ok(mut passes) => passes.take(),
            Err(_) => Pass::inline(),
        };
        let streamed = streamer.stream_described(&mut pass, Source::Share(body), size, &described);
        if let Ok(mut passes) = self.passes.lock() {
            passes.give_back(pass);
        }
        let key = format!("{}:{name}", self.uploads.fetch_add(1, Ordering::Relaxed));
        let waiting = Waiting {
            key: key.clone(),
            streamed,
            described,
        };
        match self.waiting.lock() {
            Ok(mut queue) => queue.push(waiting),
            Err(_) => return FileReport::failed(&name, &poisoned()),
        }
        let Ok(mut committer) = self.ingest.lock() else {
            return FileReport::failed(&name, &poisoned());
        };
        // The turn before took this upload in: its report waits.
        if let Some(report) = committer.done.remove(&key) {
            committer.leave();
            return report;
        }
        let batch = match self.waiting.lock() {
            Ok(mut queue) => std::mem::take(&mut *queue),
            Err(_) => Vec::new(),
        };
        committer.commit(batch);
        let report = committer.done.remove(&key).unwrap_or_else(|| {
            let failure = Failure::Store(anyhow::anyhow!("the engine said nothing of it"));
            FileReport::failed(&name, &failure)
        });
        committer.leave();
        report
    }
}

fn poisoned() -> Failure {
    Failure::Store(anyhow::anyhow!("the engine stopped after an earlier panic"))
}

/// A piece of an upload's body on its way from the connection to the
/// thread that streams it.
pub enum Piece {
    Data(Bytes),
    /// The body ended as it should: without this, a closed channel means
    /// the upload was cut off, never that it is complete.
    End,
}

/// An upload's body as blocking chunks, fed by the connection's task
/// through a bounded channel: memory per upload is a few chunks.
pub struct BodyReader {
    pieces: mpsc::Receiver<io::Result<Piece>>,
    ended: bool,
}

impl BodyReader {
    pub fn new(pieces: mpsc::Receiver<io::Result<Piece>>) -> Self {
        BodyReader {
            pieces,
            ended: false,
        }
    }
}

impl Chunks for BodyReader {
    /// The next piece, as the connection read it: the pass takes it without
    /// a copy.
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        while !self.ended {
            match self.pieces.blocking_recv() {
                Some(Ok(Piece::Data(bytes))) if bytes.is_empty() => {}
                Some(Ok(Piece::Data(bytes))) => return Ok(Some(bytes)),
                Some(Ok(Piece::End)) => self.ended = true,
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upload was cut off",
                    ));
                }
            }
        }
        Ok(None)
    }
}
