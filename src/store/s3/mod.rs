//! A store under an S3 prefix: the same layout and promises as a local
//! store, where S3 allows.
//!
//! S3 has no rename and no append, so the two steps that are atomic on a
//! disk work differently here. An input streams into a spool (memory while
//! small, else a local file) while it is hashed; once the hash is known, the
//! spool is uploaded under `objects/<2 hex>/<64 hex>` with `If-None-Match: *`
//! (a HEAD first skips large content already stored). The manifest is a log
//! of numbered commits, each written once, create-only, after every object
//! its lines name is complete, and consolidated into packs; this machine
//! keeps a copy of it, indexed by the catalog (see `manifest.rs`).

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use opendal::blocking;
use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::options::{ListOptions, WriteOptions};
use opendal::{ErrorKind, services};
use opendal_http_transport_reqwest::ReqwestTransport;

mod location;
mod lock;
mod manifest;
mod removal;
mod requests;
mod spool;
mod upload;
mod view;

pub use location::{S3Location, S3Settings};
pub use requests::Unfinished;
pub use spool::{Spool, SpoolStager};

use self::lock::S3Lock;
use self::manifest::{Mirror, Remote};
use self::requests::Uploads;
use self::upload::{BYTES_IN_FLIGHT_KIB, Target, UploadFailure, upload};
use super::{Backend, Committed, Listed, LookupError, StoreFormat};
use crate::hashing::Sha256;
use crate::manifest::{Entry, Line, Lines};
use crate::object_id::ObjectId;

const STORE_JSON: &str = "store.json";
const CONFIG_JSON: &str = "config.json";
const OBJECTS: &str = "objects/";

/// Objects uploaded at once. Small objects: each costs one round trip;
/// large ones are bound by their parts in flight.
const UPLOADS_IN_FLIGHT: usize = 16;

/// How fresh the manifest's copy must be before a question is asked of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fresh {
    /// Caught up with the bucket once by this handle.
    Once,
    /// Caught up at most this long ago.
    Within(Duration),
    /// Not caught up first: the question does it itself (a commit lists
    /// what is new before it numbers its own), and counts as catching up.
    ByItself,
}

/// How long the server's pages may go without asking the bucket for
/// other machines' commits (its own are in the copy at once).
const PAGES_FRESH_FOR: Duration = Duration::from_secs(2);

/// A store under an S3 prefix; see the module documentation.
pub struct S3Store {
    location: S3Location,
    settings: S3Settings,
    op: blocking::Operator,
    /// Where inputs wait, hashed, for their upload.
    spool: Arc<Path>,
    /// Set once the spool folder exists.
    spool_ready: Arc<OnceLock<()>>,
    /// This store's folder on this machine: the manifest's copy and its
    /// catalog, tokens, the spool.
    cache: PathBuf,
    /// The manifest's copy, opened at the first question.
    mirror: std::sync::Mutex<Option<Mirror>>,
    /// When the copy last caught up with the bucket (for this handle).
    synced: std::sync::Mutex<Option<std::time::Instant>>,
    /// The same operator, async: uploads use it to look a large object up
    /// before sending it.
    async_op: opendal::Operator,
    /// Held while this handle writes: no gc removes objects meanwhile.
    writing: Option<S3Lock>,
    /// How long taking the writer's lock waits for a gc.
    writer_wait: Duration,
    /// The objects listed when the files cache first asked, and those
    /// uploaded since (a writer's lock keeps gc from removing any).
    listed: Option<HashSet<ObjectId>>,
    /// The requests OpenDAL cannot make as we need them: uploads with each
    /// part's MD5 from the pass, and gc's listing of unfinished uploads.
    requests: Arc<Uploads>,
    /// Kept last: the operators' requests run on it.
    runtime: tokio::runtime::Runtime,
}

impl S3Store {
    /// Connects and checks that the prefix holds a store of ours; creates
    /// one in an empty prefix when `create` is set.
    pub fn open(
        location: S3Location,
        settings: S3Settings,
        local: &Path,
        spool: Option<&Path>,
        create: bool,
    ) -> Result<S3Store> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("s3")
            .enable_all()
            .build()
            .context("starting the S3 client's runtime")?;
        let (op, async_op, requests) = {
            let _entered = runtime.enter();
            opendal::install_default();
            // reqwest, with TLS (for https endpoints) on ring, the crypto
            // our hashing uses. Both calls keep what is installed already.
            let _ = rustls::crypto::ring::default_provider().install_default();
            opendal::HttpTransporter::install_default(ReqwestTransport::default());
            let mut builder = services::S3::default()
                .bucket(&location.bucket)
                .root(&format!("/{}", location.prefix))
                .region(&settings.region)
                // The small writes OpenDAL makes (segments, store.json,
                // locks) carry a Content-MD5 that it computes; objects go
                // up through `Uploads`, with the pass's.
                .checksum_algorithm("md5");
            if let Some(endpoint) = &settings.endpoint {
                builder = builder.endpoint(endpoint);
            }
            if !settings.path_style {
                builder = builder.enable_virtual_host_style();
            }
            let op = opendal::Operator::new(builder)
                .map_err(|e| anyhow!("{}: {}", describe(&location, &settings), e.kind()))?
                // A server that accepts and never answers (a full Ceph OSD
                // blocks writes) must not hang a cron job: each request has
                // a deadline, and the retries above it a count. Added
                // first, as the timeout layer asks of a retry layer.
                .layer(
                    TimeoutLayer::new()
                        .with_timeout(Duration::from_secs(60))
                        .with_io_timeout(Duration::from_secs(120)),
                )
                .layer(
                    RetryLayer::new()
                        .with_max_times(4)
                        .with_min_delay(Duration::from_millis(200))
                        .with_jitter(),
                );
            let requests = Arc::new(Uploads::new(&location, &settings)?);
            (blocking::Operator::new(op.clone())?, op, requests)
        };
        let digest = ObjectId::from_bytes(Sha256::digest(location.url()));
        let key = digest.to_string()[..16].to_owned();
        let cache = local.join("s3").join(&key);
        let spool: Arc<Path> = spool
            .map_or_else(|| cache.join("spool"), Path::to_path_buf)
            .into();
        let store = S3Store {
            location,
            settings,
            op,
            spool,
            spool_ready: Arc::new(OnceLock::new()),
            cache,
            mirror: std::sync::Mutex::new(None),
            synced: std::sync::Mutex::new(None),
            writing: None,
            writer_wait: Duration::ZERO,
            listed: None,
            async_op,
            requests,
            runtime,
        };
        store.check_format(create)?;
        Ok(store)
    }

    /// Starts writing: holds a shared lock (see `s3_lock`) until this handle
    /// is dropped, so that no gc removes what this run uploads or finds
    /// present. Waits at most `wait` for a gc to finish.
    pub fn begin_writing(&mut self, wait: Duration) -> Result<()> {
        self.writer_wait = wait;
        self.writing = Some(S3Lock::acquire(&self.op, false, wait, &self.describe())?);
        Ok(())
    }

    /// Holds the store exclusively: no writer runs while the guard lives.
    pub fn lock_exclusively(&self, wait: Duration) -> Result<S3Lock> {
        S3Lock::acquire(&self.op, true, wait, &self.describe())
    }

    /// Where this machine keeps the store's partial (resumable) uploads:
    /// in the spool, where the bytes of uploads wait already.
    pub fn partials_dir(&self) -> PathBuf {
        self.spool.join("uploads")
    }

    /// Where `ingest token` keeps this store's tokens: on this machine,
    /// beside its cache, since the server that reads them runs here.
    pub fn tokens_path(&self) -> PathBuf {
        self.cache.join("tokens.json")
    }

    /// The store's URL, with the endpoint it is reached at (never a secret).
    pub fn describe(&self) -> String {
        describe(&self.location, &self.settings)
    }

    pub fn url(&self) -> String {
        self.location.url()
    }

    fn check_format(&self, create: bool) -> Result<()> {
        let found = match self.op.read(STORE_JSON) {
            Ok(bytes) => Some(bytes.to_vec()),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(self.failed("reading store.json", e)),
        };
        let format = match found {
            Some(bytes) => serde_json::from_slice::<StoreFormat>(&bytes)
                .map_err(|e| anyhow!("{}: store.json is not a store's: {e}", self.describe()))?,
            None => {
                let listed = self.op.list_options(
                    "",
                    ListOptions {
                        limit: Some(1),
                        ..ListOptions::default()
                    },
                );
                let listed = listed.map_err(|e| self.failed("listing the prefix", e))?;
                if listed
                    .iter()
                    .any(|e| e.path() != "/" && !e.path().is_empty())
                {
                    bail!(
                        "{}: holds other keys and no store.json: not an ingest store",
                        self.describe()
                    );
                }
                if !create {
                    bail!(
                        "{}: no store here (ingest creates one on its first add)",
                        self.describe()
                    );
                }
                let format = StoreFormat::current();
                let text = serde_json::to_vec_pretty(&format)?;
                let written = self.op.write_options(
                    STORE_JSON,
                    text,
                    WriteOptions {
                        if_not_exists: true,
                        content_type: Some("application/json".into()),
                        ..WriteOptions::default()
                    },
                );
                match written {
                    Ok(_) => {}
                    // Another machine created it a moment ago.
                    Err(e) if e.kind() == ErrorKind::ConditionNotMatch => {}
                    Err(e) => return Err(self.failed("creating store.json", e)),
                }
                format
            }
        };
        if let Some(why) = format.incompatibility() {
            bail!("{}: refusing the store: {why}", self.describe());
        }
        Ok(())
    }

    /// An error from the server, as one line naming the endpoint and bucket.
    fn failed(&self, doing: &str, e: opendal::Error) -> anyhow::Error {
        anyhow!("{}: {doing}: {}", self.describe(), cause_of(&e))
    }

    pub(crate) fn object_key(id: &ObjectId) -> String {
        format!("{OBJECTS}{}/{id}", id.fanout())
    }

    /// The stored size of an object, if it is stored.
    pub fn object_size(&self, id: &ObjectId) -> Result<Option<u64>> {
        match self.op.stat(&Self::object_key(id)) {
            Ok(meta) => Ok(Some(meta.content_length())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.failed(&format!("looking up {id}"), e)),
        }
    }

    /// Uploads spooled objects, several at once (small files are bound by
    /// round trips, not bandwidth); returns in order what each became.
    fn upload_all(&self, staged: Vec<(Spool, ObjectId)>) -> Result<Vec<Committed>> {
        let count = staged.len();
        let results = self.runtime.block_on(async {
            let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(UPLOADS_IN_FLIGHT));
            let budget = Arc::new(tokio::sync::Semaphore::new(BYTES_IN_FLIGHT_KIB));
            let mut tasks = tokio::task::JoinSet::new();
            for (index, (spool, id)) in staged.into_iter().enumerate() {
                let target = Target {
                    op: self.async_op.clone(),
                    requests: Arc::clone(&self.requests),
                    key: Self::object_key(&id),
                    full_key: self.full_key(&Self::object_key(&id)),
                    id,
                    budget: Arc::clone(&budget),
                };
                let slots = slots.clone();
                tasks.spawn(async move {
                    let _slot = slots.acquire_owned().await;
                    (index, id, upload(target, spool).await)
                });
            }
            let mut results = Vec::with_capacity(count);
            while let Some(done) = tasks.join_next().await {
                results.push(done);
            }
            results
        });
        let mut outcome = vec![Committed::AlreadyPresent; count];
        let mut first_error = None;
        for done in results {
            match done {
                Ok((index, _, Ok(committed))) => outcome[index] = committed,
                Ok((_, id, Err(failure))) => {
                    first_error.get_or_insert_with(|| self.upload_error(&id, failure));
                }
                Err(panic) => {
                    first_error.get_or_insert_with(|| anyhow!("an upload task failed: {panic}"));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(outcome),
        }
    }

    fn upload_error(&self, id: &ObjectId, failure: UploadFailure) -> anyhow::Error {
        match failure {
            UploadFailure::Lookup(e) => self.failed(&format!("looking up {id}"), e),
            UploadFailure::Server(e) => anyhow!("{}: uploading {id}: {e:#}", self.describe()),
            UploadFailure::Spool(e) => anyhow!("reading {id} for its upload: {e}"),
            UploadFailure::Changed => anyhow!("{id} changed since it was read"),
        }
    }

    /// A key of the store as the bucket knows it, the prefix included.
    fn full_key(&self, key: &str) -> String {
        match self.location.prefix.as_str() {
            "" => key.to_owned(),
            prefix => format!("{prefix}/{key}"),
        }
    }

    /// Where the catalog of the manifest's copy is.
    fn catalog_path_here(&self) -> PathBuf {
        self.cache.join(crate::catalog::FILE_NAME)
    }

    /// Runs `ask` on the manifest's copy, caught up with the bucket first
    /// as `fresh` asks.
    fn with_mirror<T>(
        &self,
        fresh: Fresh,
        ask: impl FnOnce(&mut Mirror, &Remote) -> Result<T>,
    ) -> Result<T> {
        let mut mirror = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        if mirror.is_none() {
            // Copies of segments kept by older versions: the copy replaces them.
            let _ = fs::remove_dir_all(self.cache.join("manifest"));
            *mirror = Some(Mirror::open(&self.cache)?);
        }
        let Some(mirror) = mirror.as_mut() else {
            bail!("the manifest's copy could not be opened");
        };
        let failed = |doing: &str, e: opendal::Error| self.failed(doing, e);
        let remote = Remote {
            op: &self.op,
            failed: &failed,
        };
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        let stale = match (*synced, fresh) {
            (_, Fresh::ByItself) => false,
            (None, _) => true,
            (Some(_), Fresh::Once) => false,
            (Some(at), Fresh::Within(fresh_for)) => at.elapsed() >= fresh_for,
        };
        if stale {
            mirror.locked(|mirror| mirror.sync(&remote))?;
            *synced = Some(std::time::Instant::now());
        }
        drop(synced);
        let answer = ask(mirror, &remote)?;
        if fresh == Fresh::ByItself {
            *self.synced.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(std::time::Instant::now());
        }
        Ok(answer)
    }

    /// Asks the catalog of the manifest's copy, its entries caught up
    /// (with the bucket at most `PAGES_FRESH_FOR` ago) when `catch_up`, as
    /// it is when not (a question asked per entry of a pass that caught up
    /// first); None when the catalog could not be opened.
    pub fn ask_catalog<T>(
        &self,
        catch_up: bool,
        ask: impl FnOnce(&crate::catalog::Catalog, &File) -> Result<T>,
    ) -> Result<Option<T>> {
        if !catch_up {
            let mirror = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
            return match mirror
                .as_ref()
                .and_then(|m| m.catalog().map(|c| (c, m.file())))
            {
                Some((catalog, file)) => ask(catalog, file).map(Some),
                None => Ok(None),
            };
        }
        self.with_mirror(Fresh::Within(PAGES_FRESH_FOR), |mirror, _| {
            mirror.catch_up_part(crate::catalog::Part::Entries)?;
            match mirror.catalog() {
                Some(catalog) => ask(catalog, mirror.file()).map(Some),
                None => Ok(None),
            }
        })
    }

    /// Every manifest line, each identity once, in the order this machine
    /// first read them: the local copy, caught up with the bucket, streamed.
    pub fn lines(&self) -> Result<impl Iterator<Item = io::Result<Line>> + use<>> {
        let path = self.with_mirror(Fresh::Within(Duration::ZERO), |_, _| {
            Ok(self.cache.join("manifest.jsonl"))
        })?;
        let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Lines::new(BufReader::with_capacity(256 << 10, file), 0))
    }

    /// Every key under `prefix`, at any depth; none if there is nothing.
    fn list_all(&self, prefix: &str, doing: &str) -> Result<Vec<opendal::Entry>> {
        let options = ListOptions {
            recursive: true,
            ..ListOptions::default()
        };
        match self.op.list_options(prefix, options) {
            Ok(listed) => Ok(listed),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.failed(doing, e)),
        }
    }

    /// Every key under `objects/` with the id it claims, its size and age,
    /// in key order, listed a page at a time as it is read.
    pub fn objects_listed(&self) -> Result<crate::store::ListedIter> {
        let options = ListOptions {
            recursive: true,
            ..ListOptions::default()
        };
        let lister = match self.op.lister_options(OBJECTS, options) {
            Ok(lister) => lister,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Box::new(std::iter::empty())),
            Err(e) => return Err(self.failed("listing objects", e)),
        };
        let now = std::time::SystemTime::now();
        let describe = self.describe();
        Ok(Box::new(lister.filter_map(move |listed| {
            let e = match listed {
                Ok(e) => e,
                Err(e) if e.kind() == ErrorKind::NotFound => return None,
                Err(e) => {
                    return Some(Err(anyhow!(
                        "{describe}: listing objects: {}",
                        cause_of(&e)
                    )));
                }
            };
            if e.path().ends_with('/') {
                return None;
            }
            let key = e.path().to_owned();
            let meta = e.metadata();
            let age = meta
                .last_modified()
                .and_then(|t| now.duration_since(std::time::SystemTime::from(t)).ok());
            Some(Ok(Listed {
                id: canonical_id(&key),
                size: meta.content_length(),
                shown: key,
                age,
            }))
        })))
    }

    /// Every key under `objects/` with the id it claims, its size and age.
    pub fn objects(&self) -> Result<Vec<Listed>> {
        let listed = self.list_all(OBJECTS, "listing objects")?;
        let now = std::time::SystemTime::now();
        Ok(listed
            .into_iter()
            .filter(|e| !e.path().ends_with('/'))
            .map(|e| {
                let key = e.path().to_owned();
                let id = canonical_id(&key);
                let meta = e.metadata();
                let age = meta
                    .last_modified()
                    .and_then(|t| now.duration_since(std::time::SystemTime::from(t)).ok());
                Listed {
                    shown: key,
                    id,
                    size: meta.content_length(),
                    age,
                }
            })
            .collect())
    }

    /// The object a full hash or a unique prefix of 6+ hex digits names.
    pub fn resolve(&self, prefix: &str) -> Result<ObjectId, LookupError> {
        let prefix = LookupError::checked_prefix(prefix)?;
        let listed = self
            .op
            .list(&format!("{OBJECTS}{}/", &prefix[..2]))
            .unwrap_or_default();
        let matches = listed
            .into_iter()
            .filter_map(|e| canonical_id(e.path()))
            .map(|id| id.to_string())
            .filter(|hex| hex.starts_with(&prefix))
            .collect();
        LookupError::only_match(prefix, matches)
    }

    /// Moves a corrupt object's key aside under `quarantine/`: a server-side
    /// copy, then the delete.
    pub fn move_to_quarantine(&self, key: &str) -> Result<String> {
        let name = key.rsplit('/').next().unwrap_or(key);
        let target = format!("quarantine/{name}.{}", jiff::Timestamp::now().as_second());
        self.op
            .copy(key, &target)
            .map_err(|e| self.failed(&format!("copying {key} to {target}"), e))?;
        self.remove_object(key)?;
        Ok(format!("{}/{target}", self.url()))
    }

    /// The spool files on this machine, with whether a running ingest holds them.
    pub fn spool_files(&self) -> Vec<(PathBuf, fs::Metadata, bool)> {
        let Ok(entries) = fs::read_dir(&self.spool) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| {
                let path = e.ok()?.path();
                let meta = fs::symlink_metadata(&path).ok()?;
                // Folders are not spool files (the partial uploads' is one).
                if meta.is_dir() {
                    return None;
                }
                let in_use = crate::store::held::in_use(&path);
                Some((path, meta, in_use))
            })
            .collect()
    }

    /// `len` bytes of the object from `start` on (to its end with None),
    /// streamed: only that range is asked for.
    pub fn open_object(
        &self,
        id: &ObjectId,
        start: u64,
        len: Option<u64>,
    ) -> Result<Box<dyn Read + Send>> {
        let key = Self::object_key(id);
        let reader = self
            .op
            .reader_options(
                &key,
                opendal::options::ReaderOptions {
                    chunk: Some(spool::PART_SIZE as usize),
                    ..Default::default()
                },
            )
            .and_then(|r| match (start, len) {
                // No Range header at all for a whole object (an empty one
                // cannot satisfy even `bytes=0-`).
                (0, None) => r.into_std_read(..),
                (start, None) => r.into_std_read(start..),
                (start, Some(len)) => r.into_std_read(start..start.saturating_add(len)),
            })
            .map_err(|e| self.failed(&format!("reading {id}"), e))?;
        Ok(Box::new(reader))
    }

    /// Multipart uploads begun under `objects/` and never completed, by
    /// this machine or any other (gc aborts the old ones).
    pub fn unfinished_uploads(&self) -> Result<Vec<Unfinished>> {
        let prefix = self.full_key(OBJECTS);
        let listed = self.runtime.block_on(self.requests.list(&prefix));
        listed.map_err(|e| anyhow!("{}: listing unfinished uploads: {e:#}", self.describe()))
    }

    /// Aborts an unfinished upload: the server drops its parts.
    pub fn abort_upload(&self, upload: &Unfinished) -> Result<()> {
        let aborted = self.runtime.block_on(self.requests.abort(upload));
        aborted.map_err(|e| {
            anyhow!(
                "{}: aborting the upload of {}: {e:#}",
                self.describe(),
                upload.key
            )
        })
    }

    /// How to name a key of this bucket in messages.
    pub fn key_url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.location.bucket)
    }

    /// Removes an object (gc of orphans).
    pub fn remove_object(&self, key: &str) -> Result<()> {
        self.op
            .delete(key)
            .map_err(|e| self.failed(&format!("removing {key}"), e))
    }
}

/// The id a key's name claims, when it is canonical.
fn canonical_id(key: &str) -> Option<ObjectId> {
    let rest = key.strip_prefix(OBJECTS)?;
    let (fan, hex) = rest.split_once('/')?;
    // The parser takes only the canonical form: 64 lowercase hex digits.
    let id: ObjectId = hex.parse().ok()?;
    (fan == id.fanout()).then_some(id)
}

fn describe(location: &S3Location, settings: &S3Settings) -> String {
    match &settings.endpoint {
        Some(endpoint) => format!("{} at {endpoint}", location.url()),
        None => format!("{} ({})", location.url(), settings.region),
    }
}

/// What went wrong, in a few words: OpenDAL's errors carry the whole
/// request context, which is noise in a one-line message.
fn cause_of(e: &opendal::Error) -> String {
    let text = e.to_string();
    let s3_message = || {
        let code = text.split("code: \"").nth(1)?.split('"').next()?;
        let message = text.split("message: \"").nth(1)?.split('"').next()?;
        Some(format!("{message} ({code})"))
    };
    if e.kind() == ErrorKind::PermissionDenied {
        return "access denied (check the credentials)".to_owned();
    }
    if text.contains("NoSuchBucket") {
        return "the bucket does not exist".to_owned();
    }
    if text.contains("failed to load signing credential") {
        return "no credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
            .to_owned();
    }
    if text.contains("error sending request") {
        return "no answer from the endpoint (connection failed)".to_owned();
    }
    s3_message().unwrap_or_else(|| {
        let line = text.lines().next().unwrap_or("");
        line.chars().take(300).collect()
    })
}

impl Backend for S3Store {
    type Staged = Spool;
    type Stager = SpoolStager;

    fn stager(&self) -> SpoolStager {
        SpoolStager::new(Arc::clone(&self.spool), Arc::clone(&self.spool_ready))
    }

    fn publish(&mut self, staged: Vec<(Spool, ObjectId)>) -> Result<Vec<Committed>> {
        let ids: Vec<ObjectId> = staged.iter().map(|(_, id)| *id).collect();
        let committed = self.upload_all(staged)?;
        if let Some(listed) = self.listed.as_mut() {
            listed.extend(ids);
        }
        Ok(committed)
    }

    fn record(
        &mut self,
        entries: &[Entry],
        also: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Vec<bool>> {
        // A commit lists what is new itself before it takes a number.
        let appended = self.with_mirror(Fresh::ByItself, |mirror, remote| {
            mirror.locked(|mirror| mirror.commit(remote, entries))
        })?;
        also()?;
        Ok(appended)
    }

    fn has_object(&self, id: &ObjectId) -> Result<bool> {
        Ok(self.object_size(id)?.is_some())
    }

    fn is_recorded(&mut self, entry: &Entry) -> Result<bool> {
        let id = entry.identity();
        self.with_mirror(Fresh::Once, |mirror, _| mirror.contains(&id))
    }

    /// One listing of `objects/` answers for every file of the run, rather
    /// than a HEAD each.
    fn holds(&mut self, entry: &Entry) -> Result<bool> {
        if !self.is_recorded(entry)? {
            return Ok(false);
        }
        if self.listed.is_none() {
            let ids = self.objects()?.into_iter().filter_map(|l| l.id).collect();
            self.listed = Some(ids);
        }
        Ok(self
            .listed
            .as_ref()
            .is_some_and(|l| l.contains(&entry.sha256)))
    }

    /// From `config.json` under its prefix, as a local store keeps it.
    fn config(&self) -> Result<crate::policy::StoreConfig> {
        match self.op.read(CONFIG_JSON) {
            Ok(bytes) => serde_json::from_slice(&bytes.to_vec())
                .with_context(|| format!("{}/{CONFIG_JSON} is not valid", self.url())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Default::default()),
            Err(e) => Err(self.failed(&format!("reading {CONFIG_JSON}"), e)),
        }
    }

    /// Its cache of segments and files, its spool.
    fn local_folders(&self) -> Vec<PathBuf> {
        vec![self.cache.clone(), self.spool.to_path_buf()]
    }

    fn catalog_path(&self) -> PathBuf {
        self.catalog_path_here()
    }

    /// Each batch's lines become one manifest segment.
    fn records_in_batches(&self) -> bool {
        true
    }

    fn pause_writing(&mut self) {
        self.writing = None;
    }

    fn resume_writing(&mut self) -> Result<()> {
        if self.writing.is_none() {
            let wait = self.writer_wait;
            self.writing = Some(S3Lock::acquire(&self.op, false, wait, &self.describe())?);
            // While paused, `rm` may have deleted objects listed before.
            self.listed = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_bucket_and_prefix() {
        let loc = S3Location::parse("s3://photos/family/2026/")
            .unwrap()
            .unwrap();
        assert_eq!(loc.bucket, "photos");
        assert_eq!(loc.prefix, "family/2026");
        assert_eq!(loc.url(), "s3://photos/family/2026");
        assert_eq!(S3Location::parse("s3://b").unwrap().unwrap().prefix, "");
        assert!(S3Location::parse("s3:///x").unwrap().is_err());
        assert!(S3Location::parse("/srv/store").is_none());
    }

    #[test]
    fn only_canonical_keys_name_objects() {
        let hex = "ab".repeat(32);
        assert!(canonical_id(&format!("objects/ab/{hex}")).is_some());
        assert!(canonical_id(&format!("objects/cd/{hex}")).is_none());
        assert!(canonical_id(&format!("objects/ab/{hex}.tmp")).is_none());
    }
}
