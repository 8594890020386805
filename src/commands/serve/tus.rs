//! Resumable uploads: tus 1.0 under `/v1/tus/` (core, creation,
//! creation-with-upload, creation-defer-length, termination, expiration,
//! checksum with sha256), over the partial uploads of [`crate::partial`].
//!
//! A partial's pieces are written and acknowledged (durably) as they come;
//! once its last byte has arrived, the whole upload goes through the same
//! pass as any other (hash, sniff, policy, clamd, durability, manifest
//! line), read back from this machine's disk, and gets the same answers.
//! What stays of a finished upload is a note of its outcome, so a client
//! that asks again (tus-js-client does, for a file it sent before) hears
//! that it is complete rather than sending it twice. Only the token that
//! made a partial may see or change it; to any other it does not exist.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::Shared;
use super::answers::{blocking, closing, error, report_response};
use super::auth::{self, Caller};
use super::body::{PIECES_IN_FLIGHT, Pumped, content_length, pump, unread};
use super::connections::Remote;
use super::engine::{BodyReader, Fate, FileReport};
use super::uploads::{described_as, upload_permit, user_agent};
use crate::failure::{Failure, Rejection};
use crate::hashing::Sha256;
use crate::object_id::ObjectId;
use crate::partial::{Found, Partial, PartialInfo};
use crate::pipeline::Chunks;

const VERSION: &str = "1.0.0";
const EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum";
const OFFSET_OCTETS: &str = "application/offset+octet-stream";
/// The draft's type of an appended piece (interop version 6).
const PARTIAL_UPLOAD: &str = "application/partial-upload";
/// Where a partial's bytes are acknowledged while a long piece streams
/// in: a server killed mid-piece loses at most this much of it.
const ACK_EVERY: u64 = 16 << 20;

/// Partials in use by a request (None), or idle with their running hash
/// (kept so a resumed upload hashes nothing twice).
pub type Slots = std::sync::Mutex<HashMap<String, Option<Box<Partial>>>>;

/// What the server was told about partials.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of partials one token may have at once.
    pub max_partial: u64,
    /// A partial untouched this long is gone.
    pub expiry: Duration,
}

/// What a failure to read or write a partial is answered with (the cause
/// is logged).
const PARTIAL: &str = "the partial upload could not be read or written";

/// Partials one token may have at once.
const MAX_PARTIALS_PER_TOKEN: usize = 1000;

/// `OPTIONS /v1/tus/`: what this server speaks (no token needed).
pub(super) async fn options(State(shared): State<Arc<Shared>>) -> Response {
    let mut response = tus_answer(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    headers.insert("tus-version", HeaderValue::from_static(VERSION));
    headers.insert("tus-extension", HeaderValue::from_static(EXTENSIONS));
    headers.insert("tus-checksum-algorithm", HeaderValue::from_static("sha256"));
    if let Some(max) = shared.policy.max_size {
        headers.insert("tus-max-size", HeaderValue::from(max));
    }
    response
}

/// `POST /v1/tus/`: makes a partial upload (creation), taking its first
/// bytes when the request carries them (creation-with-upload).
pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Response {
    let proto = match Proto::of(request.headers()) {
        Ok(proto) => proto,
        Err(refused) => return unread(request, refused),
    };
    let answer = async {
        auth::may_write(&caller).map_err(with_version)?;
        let headers = request.headers();
        let completes = proto.completes(headers);
        let length = match (
            header_u64(headers, "upload-length")?,
            headers.get("upload-defer-length"),
            completes,
        ) {
            (Some(length), None, _) => Some(length),
            (None, Some(v), _) if v == "1" => None,
            // The draft: the whole upload in this request, or a length
            // said later.
            (None, None, Some(true)) => content_length(headers),
            (None, None, Some(false)) => None,
            _ => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "say Upload-Length, or Upload-Defer-Length: 1",
                ));
            }
        };
        let metadata = headers
            .get("upload-metadata")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let meta = parse_metadata(&metadata)
            .map_err(|why| refuse(StatusCode::BAD_REQUEST, &format!("Upload-Metadata: {why}")))?;
        // Uppy says where a file stood in a dropped folder as relativePath
        // (the name included); the path is made safe when it is described.
        let name = meta
            .get("relativePath")
            .filter(|path| !path.is_empty())
            .or_else(|| meta.get("filename"))
            .or_else(|| meta.get("name"))
            .cloned()
            .unwrap_or_else(|| "upload".to_owned());
        let expected = match meta.get("sha256") {
            None => None,
            Some(hex) => Some(hex.trim().to_ascii_lowercase().parse().map_err(|_| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "Upload-Metadata: sha256 is not 64 hex digits",
                )
            })?),
        };
        if let (Some(limit), Some(length)) = (shared.policy.max_size, length)
            && length > limit
        {
            return Err(too_large(&shared, &name));
        }
        let info = PartialInfo {
            token: caller.name.clone(),
            name,
            declared: meta.get("filetype").or_else(|| meta.get("type")).cloned(),
            length,
            metadata,
            expected,
            created: jiff::Timestamp::now().to_string(),
            remote: request
                .extensions()
                .get::<Remote>()
                .map(|r| r.0.ip().to_string()),
            user_agent: user_agent(headers),
            outcome: None,
        };
        // The draft sends the upload's own bytes in its creation, of any
        // type; tus only with its piece's type.
        let with_upload = match proto {
            Proto::Tus => proto.piece_typed(headers),
            Proto::Draft(_) => true,
        } && content_length(headers).is_none_or(|n| n > 0);
        let limits = shared.tus_limits;
        let budget = {
            let shared = Arc::clone(&shared);
            let token = caller.name.clone();
            blocking(
                move || within_budget(&shared, &token, length, limits),
                PARTIAL,
            )
            .await
        };
        match budget {
            Ok(Ok(())) => {}
            Ok(Err(refused)) | Err(refused) => return Err(unread(request, refused)),
        }
        // A duplicate announced by its hash: the store holds those bytes.
        let held = match (expected, length) {
            (Some(id), Some(length)) => {
                let view = Arc::clone(&shared);
                let size = blocking(move || view.view.object_size(&id), PARTIAL).await;
                (size.ok().flatten() == Some(length)).then_some(id)
            }
            _ => None,
        };
        let partials = shared.view.partials();
        let partial = blocking(move || partials.create(info).map(Box::new), PARTIAL).await;
        let partial = match partial {
            Ok(partial) => partial,
            Err(refused) => return Err(unread(request, refused)),
        };
        let location = format!("/v1/tus/{}", partial.id);
        let id = partial.id.clone();
        let mut slot = CheckedOut::new_with(&shared, partial);
        let mut response = if let Some(stored) = held {
            // Announced by its hash, and held already: recorded from the
            // store's own copy, nothing to send.
            let report = finish_from(&shared, &caller, &mut slot, Some(stored)).await;
            let mut response = match report.went_in() {
                true => done_answer(&slot, &report, limits),
                false => outcome_answer(report),
            };
            if response.status() == StatusCode::NO_CONTENT {
                *response.status_mut() = StatusCode::CREATED;
            }
            unread(request, response)
        } else if with_upload {
            let response = take_piece(&shared, &caller, &mut slot, request, None, proto).await;
            let mut response = response;
            if response.status() == StatusCode::NO_CONTENT {
                *response.status_mut() = StatusCode::CREATED;
            }
            response
        } else {
            drop(slot);
            let mut response = tus_answer(StatusCode::CREATED);
            expires(&mut response, limits);
            response
        };
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        tracing::debug!("partial upload {id} made by {}", caller.name);
        Ok(response)
    };
    proto.stamp(answer.await.unwrap_or_else(|refused| refused))
}

/// `HEAD /v1/tus/ID`: how far the upload is. A partial whose last byte
/// came but whose pass failed for a passing reason (clamd down, a full
/// disk) is passed again here, so a client resuming finishes it.
pub(super) async fn head(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let proto = match Proto::of(&headers) {
        Ok(proto) => proto,
        Err(refused) => return refused,
    };
    let answer = async {
        let mut slot = check_out(&shared, &caller, &id).await?;
        let Some(partial) = slot.partial.as_ref() else {
            return Err(missing());
        };
        if partial.is_complete() && partial.info.outcome.is_none() {
            let report = finish(&shared, &caller, &mut slot).await;
            if !report.went_in() {
                return Err(outcome_answer(report));
            }
        }
        let Some(partial) = slot.partial.as_ref() else {
            return Err(missing());
        };
        // The draft answers an offset's retrieval with 204.
        let status = match proto {
            Proto::Tus => StatusCode::OK,
            Proto::Draft(_) => StatusCode::NO_CONTENT,
        };
        let mut response = tus_answer(status);
        describe(&mut response, partial, shared.tus_limits);
        Ok(response)
    };
    proto.stamp(answer.await.unwrap_or_else(|refused| refused))
}

/// `PATCH /v1/tus/ID`: the next piece, at the offset the client says.
pub(super) async fn patch(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let proto = match Proto::of(request.headers()) {
        Ok(proto) => proto,
        Err(refused) => return unread(request, refused),
    };
    let answer = async {
        auth::may_write(&caller).map_err(with_version)?;
        if !proto.piece_typed(request.headers()) {
            let wanted = match proto {
                Proto::Tus => OFFSET_OCTETS,
                Proto::Draft(_) => PARTIAL_UPLOAD,
            };
            let why = format!("a piece is sent as Content-Type: {wanted}");
            return Err(unread(
                request,
                refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, &why),
            ));
        }
        let offset = match header_u64(request.headers(), "upload-offset") {
            Ok(Some(offset)) => offset,
            Ok(None) => {
                let why = "a piece says where it goes: Upload-Offset";
                return Err(unread(request, refuse(StatusCode::BAD_REQUEST, why)));
            }
            Err(refused) => return Err(unread(request, refused)),
        };
        let mut slot = match check_out(&shared, &caller, &id).await {
            Ok(slot) => slot,
            Err(refused) => return Err(unread(request, refused)),
        };
        Ok(take_piece(&shared, &caller, &mut slot, request, Some(offset), proto).await)
    };
    proto.stamp(answer.await.unwrap_or_else(|refused| refused))
}

/// `DELETE /v1/tus/ID`: the partial is given up (termination).
pub(super) async fn terminate(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let proto = match Proto::of(&headers) {
        Ok(proto) => proto,
        Err(refused) => return refused,
    };
    let answer = async {
        auth::may_write(&caller).map_err(with_version)?;
        let mut slot = check_out(&shared, &caller, &id).await?;
        let Some(partial) = slot.partial.take() else {
            return Err(missing());
        };
        blocking(move || partial.remove(), PARTIAL).await?;
        Ok(tus_answer(StatusCode::NO_CONTENT))
    };
    proto.stamp(answer.await.unwrap_or_else(|refused| refused))
}

/// Streams a request's body into the partial at `offset` (None: at its
/// start, for a creation), acknowledging as it goes; passes the upload
/// once its last byte is in.
async fn take_piece(
    shared: &Arc<Shared>,
    caller: &Caller,
    slot: &mut CheckedOut,
    request: Request,
    offset: Option<u64>,
    proto: Proto,
) -> Response {
    let Some(partial) = slot.partial.as_ref() else {
        return unread(request, missing());
    };
    if partial.info.outcome.is_some() {
        let mut response = problem(
            proto,
            StatusCode::CONFLICT,
            "completed-upload",
            "this upload is complete",
        );
        describe(&mut response, partial, shared.tus_limits);
        return unread(request, response);
    }
    if let Some(offset) = offset
        && offset != partial.offset()
    {
        let why = format!("the upload is at byte {}, not {offset}", partial.offset());
        let mut response = problem(
            proto,
            StatusCode::CONFLICT,
            "mismatching-upload-offset",
            &why,
        );
        describe(&mut response, partial, shared.tus_limits);
        return unread(request, response);
    }
    let completes = proto.completes(request.headers());
    let headers = request.headers().clone();
    let checksum = match piece_checksum(&headers) {
        Ok(checksum) => checksum,
        Err(refused) => return unread(request, refused),
    };
    let declared_length = match header_u64(&headers, "upload-length") {
        Ok(length) => length,
        Err(refused) => return unread(request, refused),
    };
    let name = partial.info.name.clone();
    let length = match (partial.info.length, declared_length) {
        (Some(known), Some(said)) if known != said => {
            let why = format!("the upload's length is {known}, not {said}");
            return unread(request, refuse(StatusCode::BAD_REQUEST, &why));
        }
        (known, said) => known.or(said),
    };
    if let (Some(limit), Some(length)) = (shared.policy.max_size, length)
        && length > limit
    {
        return unread(request, too_large(shared, &name));
    }
    if let (Some(length), Some(sent)) = (length, content_length(&headers))
        && partial.offset() + sent > length
    {
        let why = format!("the piece would end past the upload's length ({length})");
        return unread(request, refuse(StatusCode::BAD_REQUEST, &why));
    }
    let _upload = match upload_permit(shared, caller) {
        Ok(permit) => permit,
        Err(busy) => return unread(request, busy),
    };
    let Some(mut partial) = slot.partial.take() else {
        return unread(request, missing());
    };
    let limit = length.or(shared.policy.max_size);
    let (pieces, reader) = mpsc::channel(PIECES_IN_FLIGHT);
    let writing = tokio::task::spawn_blocking(move || {
        let mut reader = BodyReader::new(reader);
        let asked = Piece {
            declared_length,
            limit,
            checksum,
            completes: completes == Some(true),
        };
        let took = write_piece(&mut partial, &mut reader, asked);
        (partial, took)
    });
    let mut body = request.into_body().into_data_stream();
    let pumped = pump(&mut body, &pieces, shared.body_timeout).await;
    drop(pieces);
    let (partial, took) = match writing.await {
        Ok(done) => done,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("upload thread: {e}"),
            );
        }
    };
    slot.partial = Some(partial);
    let response = match took {
        Took::Acked => {
            let complete = slot.partial.as_ref().is_some_and(|p| p.is_complete());
            if complete {
                let report = finish(shared, caller, slot).await;
                match (report.went_in(), proto) {
                    (true, Proto::Tus) => done_answer(slot, &report, shared.tus_limits),
                    // The draft ends with the target's own answer.
                    (true, Proto::Draft(_)) => {
                        let mut response = report_response(report);
                        response
                            .headers_mut()
                            .insert("upload-complete", HeaderValue::from_static("?1"));
                        response
                    }
                    (false, _) => outcome_answer(report),
                }
            } else {
                let mut response = tus_answer(StatusCode::NO_CONTENT);
                if let Some(partial) = slot.partial.as_ref() {
                    describe(&mut response, partial, shared.tus_limits);
                }
                response
            }
        }
        Took::TooLarge => {
            if let Some(partial) = slot.partial.take() {
                let _ = blocking(move || partial.remove(), PARTIAL).await;
            }
            too_large(shared, &name)
        }
        Took::PastLength => problem(
            proto,
            StatusCode::BAD_REQUEST,
            "inconsistent-upload-length",
            "the piece went past the upload's length: it was not kept",
        ),
        Took::ShortOfLength => problem(
            proto,
            StatusCode::BAD_REQUEST,
            "inconsistent-upload-length",
            "the upload was said complete short of its length: the piece was not kept",
        ),
        Took::Mismatch => refuse(
            StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            "the piece does not match its Upload-Checksum: it was not kept",
        ),
        Took::Failed(e) if is_disk_full(&e) => {
            tracing::warn!("partial upload {}: {e:#}", slot.id);
            let mut response = refuse(
                StatusCode::INSUFFICIENT_STORAGE,
                "the server's disk is full: the upload stays where it was; resume it once there is room",
            );
            if let Some(partial) = slot.partial.as_ref() {
                describe(&mut response, partial, shared.tus_limits);
            }
            response
        }
        Took::Failed(e) => {
            tracing::error!("partial upload {}: {e:#}", slot.id);
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the piece could not be kept",
            )
        }
    };
    match pumped {
        Pumped::Ended => response,
        Pumped::Refused => {
            super::body::linger_over(body);
            closing(response)
        }
        Pumped::Broken => closing(response),
    }
}

/// What a request asked of the piece it carries.
struct Piece {
    /// `Upload-Length`, said with it.
    declared_length: Option<u64>,
    /// The most bytes the upload may reach.
    limit: Option<u64>,
    /// The SHA-256 the piece's bytes must have.
    checksum: Option<[u8; 32]>,
    /// The draft's `Upload-Complete: ?1`: the upload ends with it.
    completes: bool,
}

/// How writing a piece ended.
enum Took {
    /// Written and acknowledged (a body cut off is acknowledged as far as
    /// it came).
    Acked,
    /// Past --max-size: the partial goes.
    TooLarge,
    /// Past the length the upload said: the piece was rolled back.
    PastLength,
    /// Not what its checksum said: rolled back.
    Mismatch,
    /// Said to complete the upload short of its length: rolled back.
    ShortOfLength,
    Failed(anyhow::Error),
}

/// Appends the body's chunks to the partial (on a blocking thread),
/// acknowledging every [`ACK_EVERY`] bytes and at the end.
fn write_piece(partial: &mut Partial, body: &mut BodyReader, asked: Piece) -> Took {
    let Piece {
        declared_length,
        limit,
        checksum,
        completes,
    } = asked;
    let file = match partial.appender() {
        Ok(file) => file,
        Err(e) => return Took::Failed(e),
    };
    let mut run = || -> anyhow::Result<Took> {
        if let Some(length) = declared_length
            && partial.info.length.is_none()
        {
            partial.set_length(length)?;
        }
        let mut piece = checksum.map(|_| Sha256::new());
        let mut since_ack = 0u64;
        loop {
            let chunk = match body.next_chunk() {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                // Cut off: keep what came (unless it must be checked whole).
                Err(_) if piece.is_some() => {
                    partial.roll_back(&file)?;
                    return Ok(Took::Acked);
                }
                Err(_) => break,
            };
            let end = partial.written() + chunk.len() as u64;
            if limit.is_some_and(|limit| end > limit) {
                partial.roll_back(&file)?;
                return Ok(match partial.info.length {
                    Some(_) => Took::PastLength,
                    None => Took::TooLarge,
                });
            }
            partial.append(&file, &chunk)?;
            if let Some(piece) = piece.as_mut() {
                piece.update(&chunk);
            }
            since_ack += chunk.len() as u64;
            if piece.is_none() && since_ack >= ACK_EVERY {
                partial.ack(&file)?;
                since_ack = 0;
            }
        }
        if let (Some(piece), Some(expected)) = (piece, checksum)
            && piece.finalize() != expected
        {
            partial.roll_back(&file)?;
            return Ok(Took::Mismatch);
        }
        if completes {
            match partial.info.length {
                None => partial.set_length(partial.written())?,
                Some(length) if length != partial.written() => {
                    partial.roll_back(&file)?;
                    return Ok(Took::ShortOfLength);
                }
                Some(_) => {}
            }
        }
        partial.ack(&file)?;
        Ok(Took::Acked)
    };
    match run() {
        Ok(took) => took,
        Err(e) => {
            // What was not acknowledged goes: the partial stays as the
            // client was last told.
            if let Err(cut) = partial.roll_back(&file) {
                tracing::warn!("partial upload {}: {cut:#}", partial.id);
            }
            Took::Failed(e)
        }
    }
}

/// Passes a complete partial through the engine, read back from disk. On
/// success or a refusal its bytes go; what stays of a stored one is its
/// outcome, for a client that asks again. A passing failure keeps it
/// whole, to be passed again when the client asks (HEAD).
async fn finish(shared: &Arc<Shared>, caller: &Caller, slot: &mut CheckedOut) -> FileReport {
    finish_from(shared, caller, slot, None).await
}

/// [`finish`], the bytes read from the partial, or from the object
/// `stored` the store already holds (a duplicate announced by its hash:
/// its bytes are not sent again).
async fn finish_from(
    shared: &Arc<Shared>,
    caller: &Caller,
    slot: &mut CheckedOut,
    stored: Option<ObjectId>,
) -> FileReport {
    let Some(mut partial) = slot.partial.take() else {
        return FileReport::failed("upload", &Failure::Store(anyhow::anyhow!("no partial")));
    };
    let engine = Arc::clone(shared);
    let token = caller.name.clone();
    let passed = tokio::task::spawn_blocking(move || {
        let info = &partial.info;
        let described = described_as(
            &info.name,
            info.declared.clone(),
            info.expected,
            &token,
            info.remote.clone(),
            info.user_agent.clone(),
        );
        let report = match ReadChunks::open(&engine, &partial, stored) {
            Ok(mut chunks) => engine.receive.receive(&mut chunks, info.length, described),
            Err(e) => FileReport::failed(&info.name, &Failure::Store(e)),
        };
        let kept = match (report.went_in(), report.status) {
            (true, _) => partial.record_outcome(report.sha256.clone().unwrap_or_default()),
            (false, Fate::Rejected) => partial.remove(),
            (false, _) => Ok(()),
        };
        if let Err(e) = kept {
            tracing::warn!("partial upload {}: {e:#}", partial.id);
        }
        let stays = report.went_in() || report.status != Fate::Rejected;
        (stays.then_some(partial), report)
    })
    .await;
    match passed {
        Ok((partial, report)) => {
            slot.partial = partial;
            if let Some(partial) = slot.partial.as_ref()
                && report.went_in()
            {
                tracing::info!(
                    "partial upload {} stored as {}",
                    partial.id,
                    partial.info.name
                );
            }
            report
        }
        Err(e) => FileReport::failed("upload", &Failure::Store(anyhow::anyhow!("{e}"))),
    }
}

fn is_disk_full(e: &anyhow::Error) -> bool {
    crate::failure::io_kinds(e).any(|k| {
        matches!(
            k,
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    })
}

/// A partial's bytes as the engine takes them.
struct ReadChunks {
    file: std::io::BufReader<Box<dyn std::io::Read + Send>>,
}

impl ReadChunks {
    /// The partial's bytes, or (`stored`) the object the store holds.
    fn open(shared: &Shared, partial: &Partial, stored: Option<ObjectId>) -> anyhow::Result<Self> {
        let reader: Box<dyn std::io::Read + Send> = match stored {
            Some(id) => shared.view.read_object(&id)?,
            None => {
                let path = partial.data_path();
                let file = std::fs::File::open(&path)
                    .map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
                Box::new(file)
            }
        };
        Ok(ReadChunks {
            file: std::io::BufReader::with_capacity(256 << 10, reader),
        })
    }
}

impl Chunks for ReadChunks {
    fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        use std::io::BufRead;
        let buf = self.file.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let chunk = Bytes::copy_from_slice(buf);
        let n = buf.len();
        self.file.consume(n);
        Ok(Some(chunk))
    }
}

/// A partial taken by one request; put back (idle, with its running hash)
/// when the request ends, or forgotten when it is gone.
pub(super) struct CheckedOut {
    shared: Arc<Shared>,
    id: String,
    partial: Option<Box<Partial>>,
}

impl CheckedOut {
    fn new_with(shared: &Arc<Shared>, partial: Box<Partial>) -> Self {
        let id = partial.id.clone();
        if let Ok(mut slots) = shared.tus_slots.lock() {
            slots.insert(id.clone(), None);
        }
        CheckedOut {
            shared: Arc::clone(shared),
            id,
            partial: Some(partial),
        }
    }
}

impl Drop for CheckedOut {
    fn drop(&mut self) {
        let mut slots = self
            .shared
            .tus_slots
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match self.partial.take() {
            Some(partial) => slots.insert(self.id.clone(), Some(partial)),
            None => slots.remove(&self.id),
        };
    }
}

/// Takes partial `id` for this request: 423 while another has it; opened
/// from disk (checked) when no request had it since the server started.
/// Another token's partial is missing.
async fn check_out(
    shared: &Arc<Shared>,
    caller: &Caller,
    id: &str,
) -> Result<CheckedOut, Response> {
    let cached = {
        let mut slots = shared.tus_slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.get_mut(id) {
            Some(None) => {
                return Err(refuse(
                    StatusCode::LOCKED,
                    "another request is writing this upload; try again",
                ));
            }
            Some(idle) => idle.take(),
            None => {
                slots.insert(id.to_owned(), None);
                None
            }
        }
    };
    let mut slot = CheckedOut {
        shared: Arc::clone(shared),
        id: id.to_owned(),
        partial: None,
    };
    let partials = shared.view.partials();
    let path = partials.dir().join(format!("{id}.json"));
    if partials
        .idle(id)
        .is_some_and(|idle| idle >= shared.tus_limits.expiry)
    {
        // Expired: gone, as gc would have it.
        let partials = partials.clone();
        let id = id.to_owned();
        blocking(move || partials.remove(&id), PARTIAL).await?;
        return Err(missing());
    }
    let partial = match cached {
        // Removed behind the server's back (gc of an expired partial).
        Some(partial) if path.exists() => Some(partial),
        _ => {
            let id = id.to_owned();
            match blocking(move || partials.open(&id), PARTIAL).await? {
                Found::Ready(partial) => Some(partial),
                Found::Missing => None,
                Found::Discarded(why) => {
                    tracing::warn!("partial upload {}: discarded: {why}", slot.id);
                    None
                }
            }
        }
    };
    slot.partial = partial.filter(|p| p.info.token == caller.name);
    if slot.partial.is_none() {
        return Err(missing());
    }
    Ok(slot)
}

/// Refuses a creation past this token's budget of partials.
fn within_budget(
    shared: &Shared,
    token: &str,
    length: Option<u64>,
    limits: Limits,
) -> anyhow::Result<Result<(), Response>> {
    let mine: Vec<_> = shared
        .view
        .partials()
        .list()?
        .into_iter()
        .filter(|p| p.info.token == token && p.info.outcome.is_none())
        .collect();
    if mine.len() >= MAX_PARTIALS_PER_TOKEN {
        return Ok(Err(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "this token has {MAX_PARTIALS_PER_TOKEN} unfinished uploads: finish or end some (DELETE)"
            ),
        )));
    }
    let held: u64 = mine.iter().map(|p| p.info.length.unwrap_or(p.bytes)).sum();
    if held + length.unwrap_or(0) > limits.max_partial {
        let why = format!(
            "this token's unfinished uploads would hold {} bytes, over the server's --max-partial of {}: finish or end some (DELETE)",
            held + length.unwrap_or(0),
            limits.max_partial
        );
        return Ok(Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, &why)));
    }
    Ok(Ok(()))
}

/// The answer to the piece that completed an upload stored: 204 with the
/// offset, and what became of it.
fn done_answer(slot: &CheckedOut, report: &FileReport, limits: Limits) -> Response {
    let mut response = tus_answer(StatusCode::NO_CONTENT);
    if let Some(partial) = slot.partial.as_ref() {
        describe(&mut response, partial, limits);
    }
    let headers = response.headers_mut();
    if let Some(sha) = report
        .sha256
        .as_deref()
        .and_then(|s| HeaderValue::from_str(s).ok())
    {
        headers.insert("x-ingest-sha256", sha);
    }
    let status = match report.status {
        Fate::New => "new",
        _ => "duplicate",
    };
    headers.insert("x-ingest-status", HeaderValue::from_static(status));
    response
}

/// An upload that did not go in, answered as a PUT would be.
fn outcome_answer(report: FileReport) -> Response {
    with_version(report_response(report))
}

/// The headers that say where a partial is.
fn describe(response: &mut Response, partial: &Partial, limits: Limits) {
    let headers = response.headers_mut();
    headers.insert("upload-offset", HeaderValue::from(partial.offset()));
    match partial.info.length {
        Some(length) => headers.insert("upload-length", HeaderValue::from(length)),
        None => headers.insert("upload-defer-length", HeaderValue::from_static("1")),
    };
    let complete = match partial.info.outcome.is_some() || partial.is_complete() {
        true => "?1",
        false => "?0",
    };
    headers.insert("upload-complete", HeaderValue::from_static(complete));
    if !partial.info.metadata.is_empty()
        && let Ok(value) = HeaderValue::from_str(&partial.info.metadata)
    {
        headers.insert("upload-metadata", value);
    }
    if partial.info.outcome.is_none() {
        expires(response, limits);
    }
}

/// `Upload-Expires`: when a partial untouched from now is gone.
fn expires(response: &mut Response, limits: Limits) {
    let at =
        jiff::Timestamp::now() + jiff::SignedDuration::try_from(limits.expiry).unwrap_or_default();
    let text = at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = HeaderValue::from_str(&text) {
        response.headers_mut().insert("upload-expires", value);
    }
}

fn tus_answer(status: StatusCode) -> Response {
    let mut response = Body::empty().into_response();
    *response.status_mut() = status;
    with_version(response)
}

fn with_version(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("tus-resumable", HeaderValue::from_static(VERSION));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error answer, as tus wants it (its version said).
fn refuse(status: StatusCode, why: &str) -> Response {
    with_version(error(status, why))
}

/// An error the draft names by a problem type (RFC 9457, with the
/// draft's types); under tus, the usual error.
fn problem(proto: Proto, status: StatusCode, kind: &str, why: &str) -> Response {
    match proto {
        Proto::Tus => refuse(status, why),
        Proto::Draft(_) => {
            let body = serde_json::json!({
                "type": format!("https://iana.org/assignments/http-problem-types#{kind}"),
                "title": why,
            });
            let mut response = (status, axum::Json(body)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            with_version(response)
        }
    }
}

fn missing() -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        "no such upload (finished long ago, given up, expired, or another token's)",
    )
}

fn too_large(shared: &Shared, name: &str) -> Response {
    let rejection = Rejection::TooLarge {
        limit: shared.policy.max_size.unwrap_or(0),
        by: shared.policy.max_size_from,
    };
    let report = FileReport::failed(name, &Failure::Rejected(rejection));
    with_version(closing(report_response(report)))
}

/// Which protocol a request speaks: tus 1.0 (`Tus-Resumable: 1.0.0`), or
/// the IETF draft of resumable uploads at the interop version it names
/// (`Upload-Draft-Interop-Version`: 5 is draft-03, 6 is draft-05, as
/// tus-js-client and the tus project's servers speak them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tus,
    Draft(u8),
}

impl Proto {
    /// The protocol of a request; 412 (saying what is spoken) for none.
    fn of(headers: &HeaderMap) -> Result<Proto, Response> {
        if let Some(v) = headers.get("upload-draft-interop-version") {
            return match v.to_str().map(str::trim) {
                Ok("5") => Ok(Proto::Draft(5)),
                Ok("6") => Ok(Proto::Draft(6)),
                _ => Err(refuse(
                    StatusCode::PRECONDITION_FAILED,
                    "the resumable-upload draft is spoken at interop versions 5 and 6",
                )),
            };
        }
        match headers.get("tus-resumable") {
            Some(v) if v == VERSION => Ok(Proto::Tus),
            _ => {
                let mut response = refuse(
                    StatusCode::PRECONDITION_FAILED,
                    "this is tus 1.0.0: send Tus-Resumable: 1.0.0 (or Upload-Draft-Interop-Version: 6)",
                );
                response
                    .headers_mut()
                    .insert("tus-version", HeaderValue::from_static(VERSION));
                Err(response)
            }
        }
    }

    /// The answer as this protocol gives it: the draft's interop version
    /// instead of tus's, and its completeness said.
    fn stamp(self, mut response: Response) -> Response {
        if let Proto::Draft(version) = self {
            let headers = response.headers_mut();
            headers.remove("tus-resumable");
            headers.insert(
                "upload-draft-interop-version",
                HeaderValue::from(u16::from(version)),
            );
        }
        response
    }

    /// Whether a piece's body is sent as this protocol wants it.
    fn piece_typed(self, headers: &HeaderMap) -> bool {
        let typed = |wanted: &str| {
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case(wanted))
        };
        match self {
            Proto::Tus => typed(OFFSET_OCTETS),
            // Interop version 5 (draft-03) names no type for a piece.
            Proto::Draft(5) => true,
            Proto::Draft(_) => typed(PARTIAL_UPLOAD) || typed(OFFSET_OCTETS),
        }
    }

    /// The draft's `Upload-Complete: ?1`: this request's body ends the
    /// upload. None under tus, or when not said.
    fn completes(self, headers: &HeaderMap) -> Option<bool> {
        match self {
            Proto::Tus => None,
            Proto::Draft(_) => match headers.get("upload-complete")?.to_str().ok()?.trim() {
                "?1" => Some(true),
                "?0" => Some(false),
                _ => None,
            },
        }
    }
}

/// A header that must be a whole number of bytes, when present.
fn header_u64(headers: &HeaderMap, name: &str) -> Result<Option<u64>, Response> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                &format!("{name} is not a number of bytes"),
            )
        })
}

/// `Upload-Checksum: sha256 BASE64` of the piece; other algorithms are
/// refused (400), as the checksum extension says.
fn piece_checksum(headers: &HeaderMap) -> Result<Option<[u8; 32]>, Response> {
    let Some(value) = headers.get("upload-checksum") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    let (algorithm, b64) = text.trim().split_once(' ').unwrap_or((text, ""));
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Upload-Checksum: only sha256 is supported",
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .map(Some)
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "Upload-Checksum: sha256 is not base64 of 32 bytes",
            )
        })
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (a value may
/// be absent). Keys must be unique.
fn parse_metadata(text: &str) -> Result<HashMap<String, String>, String> {
    let mut pairs = HashMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|_| format!("the value of {key:?} is not base64"))?;
        let value = String::from_utf8_lossy(&value).into_owned();
        if pairs.insert(key.to_owned(), value).is_some() {
            return Err(format!("{key:?} is given twice"));
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_pairs_of_keys_and_base64() {
        let meta = parse_metadata("filename aGVsbG8udHh0, filetype dGV4dC9wbGFpbg==,flag").unwrap();
        assert_eq!(meta["filename"], "hello.txt");
        assert_eq!(meta["filetype"], "text/plain");
        assert_eq!(meta["flag"], "");
        assert!(parse_metadata("a !!!").is_err());
        assert!(parse_metadata("a YQ==,a YQ==").is_err());
    }
}
