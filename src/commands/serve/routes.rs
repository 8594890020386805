//! The endpoints under `/v1`, and the request log.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt::Display;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::auth::{self, Caller};
use super::connections;
use super::engine::{BodyReader, Fate, FileReport, Piece};
use super::multipart::{self, Multipart};
use super::{MAX_HEAD_BYTES, MAX_NAME_BYTES, MAX_PARTS, Shared, page};
use crate::engine::Described;
use crate::failure::Failure;
use crate::hashing::Sha256;
use crate::manifest::{Entry, Line, Origin};
use crate::object_id::ObjectId;
use crate::policy::MimePattern;

/// The client's address, set on each request by the connection's service.
#[derive(Debug, Clone, Copy)]
pub struct Remote(pub SocketAddr);

pub fn router(shared: Arc<Shared>) -> Router {
    let with_token = Router::new()
        .route("/v1/upload", post(upload))
        .route("/v1/files/{name}", put(put_file))
        .route("/v1/objects/{sha256}", get(get_object))
        .route("/v1/objects/{sha256}/thumbnail", get(get_thumbnail))
        .route("/v1/entries", get(entries))
        .route("/v1/limits", get(limits))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            auth::require_token,
        ));
    Router::new()
        .route("/", get(page::index))
        .route("/page/{file}", get(page::asset))
        .route("/v1/health", get(health))
        .merge(with_token)
        .fallback(not_found)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(limit_head))
        .layer(middleware::from_fn(log_request))
        .with_state(shared)
}

/// The router as a connection's service, with the client's address on
/// every request, each request counted in flight on its connection until
/// its answer's body is done (see [`connections`]).
pub fn service(
    router: Router,
    remote: SocketAddr,
    activity: Arc<connections::Activity>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<Output = Result<Response, std::convert::Infallible>>
             + Send
             + 'static,
> + Clone {
    hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(Remote(remote));
        let in_flight = activity.begin();
        let mut router = router.clone();
        let answer = tower_service::Service::call(&mut router, request.map(Body::new));
        async move {
            let response = answer.await?;
            Ok(connections::Clocked::wrap(response, in_flight))
        }
    })
}

/// A JSON error answer: `{"error": "..."}`.
pub fn error(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({ "error": why }))).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint (see GET /v1/limits)",
    )
}

async fn health() -> Response {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })).into_response()
}

async fn limits(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let policy = &shared.policy;
    let scope = match caller.scope {
        crate::tokens::Scope::Read => "read",
        crate::tokens::Scope::ReadWrite => "read-write",
    };
    let patterns = |p: &[MimePattern]| p.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    Json(json!({
        "max_size": policy.max_size,
        "allow": patterns(&policy.allow),
        "deny": patterns(&policy.deny),
        "scanning": policy.clamd.is_some(),
        "max_uploads": shared.max_uploads,
        "max_uploads_per_token": shared.max_uploads_per_token,
        "max_parts": MAX_PARTS,
        "max_name_bytes": MAX_NAME_BYTES,
        "token": { "name": caller.name, "scope": scope },
    }))
    .into_response()
}

/// Refuses a request whose head is over [`MAX_HEAD_BYTES`] (431), before
/// anything else looks at it: hyper stops a head only at the connection's
/// read buffer, which is wider than that on the first connections.
async fn limit_head(request: Request, next: Next) -> Response {
    if head_bytes(&request) > MAX_HEAD_BYTES {
        let why = format!("the request's head is over {} KiB", MAX_HEAD_BYTES / 1024);
        return closing(error(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, &why));
    }
    next.run(request).await
}

/// The bytes of a request's head as HTTP/1.1 sends it: the request line,
/// each header line, and the blank line.
fn head_bytes(request: &Request) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |p| p.as_str().len());
    let line = request.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + ": ".len() + value.len() + 2)
        .sum();
    line + headers + 2
}

/// Every error is answered in JSON, `{"error": "..."}`, as the handlers
/// answer theirs: this catches the few that the router and its extractors
/// make in plain text or with no body (a method an endpoint does not take,
/// a path that is not UTF-8), keeping their other headers (`Allow`).
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The router's own answers are a line at most.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let why = match text.trim() {
        "" => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
        text => text.to_owned(),
    };
    let (answer, body) = error(status, &why).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(answer.headers);
    Response::from_parts(parts, body)
}

/// One line per request: method, path, status, bytes, time and the token's
/// name (never the token). The path is escaped: it comes from the client.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = crate::stderr::escape(request.uri().path()).into_owned();
    let sent = content_length(request.headers());
    let remote = request.extensions().get::<Remote>().map(|r| r.0);
    let response = next.run(request).await;
    let caller = response
        .extensions()
        .get::<Caller>()
        .map(|c| c.name.clone());
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        bytes_in = sent,
        bytes_out = content_length(response.headers()),
        ms = started.elapsed().as_millis() as u64,
        token = caller.as_deref().unwrap_or("-"),
        remote = remote.map(|r| r.to_string()).unwrap_or_default(),
    );
    response
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A place among the uploads under way, held until the upload ends: one
/// of --max-uploads, of which one token may hold at most
/// --max-uploads-per-token (so a client trickling many bodies in with one
/// token leaves room for the others); else 503 with Retry-After.
pub struct UploadSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    shared: Arc<Shared>,
    token: String,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut held = self
            .shared
            .uploads_by_token
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = held.get_mut(&self.token) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.token);
            }
        }
    }
}

/// Uploads one token may have under way by default: three quarters of
/// `max_uploads`.
pub fn per_token_uploads(max_uploads: u32) -> u32 {
    (max_uploads - max_uploads / 4).max(1)
}

fn upload_permit(shared: &Arc<Shared>, caller: &Caller) -> Result<UploadSlot, Response> {
    let busy = || {
        let mut response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many uploads at once; try again shortly",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        response
    };
    let mut held = shared
        .uploads_by_token
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let count = held.entry(caller.name.clone()).or_insert(0);
    if *count >= shared.max_uploads_per_token as usize {
        return Err(busy());
    }
    let permit = Arc::clone(&shared.uploads)
        .try_acquire_owned()
        .map_err(|_| busy())?;
    *count += 1;
    Ok(UploadSlot {
        _permit: permit,
        shared: Arc::clone(shared),
        token: caller.name.clone(),
    })
}

/// What the server records of an upload besides its bytes.
fn described(
    raw_name: &str,
    declared: Option<String>,
    expected: Option<ObjectId>,
    caller: &Caller,
    remote: Option<Remote>,
    headers: &HeaderMap,
) -> Described {
    let name = one_component(raw_name);
    let user_agent = headers.get(header::USER_AGENT).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(256)
            .collect()
    });
    Described {
        name: OsString::from(name),
        // Uploads of one name by one token are one record, as a file's
        // path is: sent again, the upload is a duplicate, not a new line.
        source: OsString::from(format!("http:{}", caller.name)),
        declared_mime: declared
            .and_then(|d| crate::media_type::clean(&d))
            .filter(|d| d != "application/octet-stream"),
        origin: Some(Origin {
            kind: "http".to_owned(),
            remote: remote.map(|r| r.0.ip().to_string()),
            token: Some(caller.name.clone()),
            user_agent,
            ..Origin::default()
        }),
        expected,
    }
}

/// Chunks of one upload on their way to its thread, at most; each is at
/// most the connection's read buffer. Measured (five 50 MB uploads, then
/// 100 concurrent 1 MB ones, release build), with 64 KiB buffers: with one,
/// a 50 MB upload took about 1.5x as long as with four; eight saved a
/// little more time but cost 49 MiB of peak RSS against 39 MiB with four.
/// With 32 KiB buffers and the chunks shared with the pass, one, two or four
/// made little difference to that peak (25-30 MiB).
const PIECES_IN_FLIGHT: usize = 4;

/// A client's name for an upload as one path component: what follows its
/// last `/` or `\\`, without control characters, never `.` or `..`, cut to
/// 240 bytes as `export` cuts (keeping the extension). Characters only some
/// systems refuse (`<`, `:`...) stay: the name is a record, shown as text,
/// and `export` makes it safe for the system it writes to.
fn one_component(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    let trimmed = cleaned.trim();
    let name = match trimmed {
        "" | "." | ".." => "upload".to_owned(),
        name => name.to_owned(),
    };
    crate::names::shorten(name)
}

/// How pumping a body into the engine ended.
#[derive(Debug, PartialEq, Eq)]
enum Pumped {
    /// The body ended, and the engine had all of it.
    Ended,
    /// The engine stopped reading (it refused the upload).
    Refused,
    /// The client failed or stalled: the connection is not usable.
    Broken,
}

/// Streams one upload's body into the engine: the body's chunks go through
/// a bounded channel to a blocking thread that runs the pass, so memory is
/// a few chunks whatever the upload's size.
async fn receive_body<S, E>(
    shared: &Arc<Shared>,
    body: &mut S,
    size: Option<u64>,
    described: Described,
) -> (FileReport, Pumped)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let name = described.name.to_string_lossy().into_owned();
    let (pieces, reader) = mpsc::channel(PIECES_IN_FLIGHT);
    let engine = Arc::clone(shared);
    let streaming = tokio::task::spawn_blocking(move || {
        let mut reader = BodyReader::new(reader);
        engine.receive.receive(&mut reader, size, described)
    });
    let pumped = pump(body, &pieces, shared.body_timeout).await;
    drop(pieces);
    let report = streaming.await.unwrap_or_else(|e| {
        FileReport::failed(
            &name,
            &Failure::Store(anyhow::anyhow!("upload thread: {e}")),
        )
    });
    let mut report = report;
    if let (Some(sha256), Some(mime)) = (&report.sha256, &report.mime)
        && let Ok(id) = sha256.parse()
    {
        if report.status == Fate::Duplicate {
            // Asked before this upload is learnt, so that a copy stored
            // before this server started is dated from the manifest (read
            // off the runtime's threads: it can be large).
            let shared = Arc::clone(shared);
            let since =
                tokio::task::spawn_blocking(move || shared.types.since(shared.view.as_ref(), &id));
            report.stored_since = since.await.ok().flatten();
        }
        let now = jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map(|t| t.to_string());
        shared
            .types
            .learn_type(id, mime, now.as_deref().unwrap_or(""));
    }
    (report, pumped)
}

async fn pump<S, E>(
    body: &mut S,
    pieces: &mpsc::Sender<io::Result<Piece>>,
    stall: Duration,
) -> Pumped
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    loop {
        let piece = match tokio::time::timeout(stall, body.next()).await {
            Err(_) => {
                let secs = stall.as_secs_f64();
                let why = format!("the upload sent nothing for {secs} s");
                let _ = pieces
                    .send(Err(io::Error::new(io::ErrorKind::TimedOut, why)))
                    .await;
                return Pumped::Broken;
            }
            Ok(Some(Err(e))) => {
                let why = format!("reading the upload: {e}");
                let _ = pieces.send(Err(io::Error::other(why))).await;
                return Pumped::Broken;
            }
            Ok(Some(Ok(bytes))) => Piece::Data(bytes),
            Ok(None) => Piece::End,
        };
        let end = matches!(piece, Piece::End);
        if pieces.send(Ok(piece)).await.is_err() {
            return Pumped::Refused;
        }
        if end {
            return Pumped::Ended;
        }
    }
}

/// A body whose declared length is over --max-size: refused before it is
/// read (so a client that sent `Expect: 100-continue` sends nothing).
fn refuse_by_length(shared: &Shared, headers: &HeaderMap, name: &str) -> Result<(), Response> {
    let (Some(limit), Some(length)) = (shared.policy.max_size, content_length(headers)) else {
        return Ok(());
    };
    if length <= limit {
        return Ok(());
    }
    let rejection = crate::policy::Rejection::TooLarge {
        limit,
        by: shared.policy.max_size_from,
    };
    let report = FileReport::failed(name, &Failure::Rejected(rejection));
    Err(closing(report_response(report)))
}

fn report_response(report: FileReport) -> Response {
    let status = StatusCode::from_u16(report.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(report)).into_response()
}

/// Asks the client to close: the rest of its body will not be read.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// How long, and how many more bytes of it, the body of an upload answered
/// before it ended is read and thrown away after the answer (a lingering
/// close, as Apache and nginx do): closing a connection with unread bytes
/// makes the kernel reset it, and a client still sending can lose the
/// answer to that reset. Clients that see the answer stop sending.
const LINGER: Duration = Duration::from_secs(5);
const LINGER_BYTES: u64 = 64 << 20;

/// Runs `drain` (the rest of a body, thrown away) beside the answer, for
/// at most [`LINGER`]; the connection closes when it ends.
fn linger(drain: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(LINGER, drain).await;
    });
}

/// Lingers over the rest of a body: [`linger`] with [`discard`].
fn linger_over<S, E>(mut body: S)
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
{
    linger(async move {
        discard(&mut body, &mut { LINGER_BYTES }).await;
    });
}

/// `answer`, given before any of the request's body was read: the body is
/// lingered over, unless the client waits for `100 Continue` (and so sends
/// none).
fn unread(request: Request, answer: Response) -> Response {
    if !expects_continue(request.headers()) {
        linger_over(request.into_body().into_data_stream());
    }
    answer
}

/// Whether the client waits for `100 Continue` before it sends its body.
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// Reads `body` to its end and throws it away, unless it passes `budget`
/// bytes: whether it ended within them.
async fn discard<S, E>(body: &mut S, budget: &mut u64) -> bool
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    while let Some(Ok(chunk)) = body.next().await {
        match budget.checked_sub(chunk.len() as u64) {
            Some(left) => *budget = left,
            None => return false,
        }
    }
    true
}

/// `PUT /v1/files/{name}`: the body is one file.
async fn put_file(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let answer = async {
        auth::may_write(&caller)?;
        if name.len() > MAX_NAME_BYTES {
            return Err(error(StatusCode::BAD_REQUEST, "the name is too long"));
        }
        let _slot = match upload_permit(&shared, &caller) {
            Ok(permit) => permit,
            Err(busy) => return Err(unread(request, busy)),
        };
        if let Err(refused) = refuse_by_length(&shared, request.headers(), &name) {
            return Err(unread(request, refused));
        }
        let headers = request.headers();
        let expected = expected_digest(headers)
            .map_err(|why| closing(error(StatusCode::BAD_REQUEST, &why)))?;
        let declared = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let remote = request.extensions().get::<Remote>().copied();
        let size = content_length(headers);
        let described = described(&name, declared, expected, &caller, remote, headers);
        let mut body = request.into_body().into_data_stream();
        let (report, pumped) = receive_body(&shared, &mut body, size, described).await;
        let response = report_response(report);
        Ok(match pumped {
            Pumped::Ended => response,
            Pumped::Refused => {
                linger_over(body);
                closing(response)
            }
            Pumped::Broken => closing(response),
        })
    };
    answer.await.unwrap_or_else(|refused| refused)
}

/// The digest a client expects its upload to have: `Repr-Digest:
/// sha-256=:BASE64:` (RFC 9530), or `X-Ingest-Sha256: HEX`.
fn expected_digest(headers: &HeaderMap) -> Result<Option<ObjectId>, String> {
    if let Some(value) = headers.get("x-ingest-sha256") {
        let text = value.to_str().map_err(|_| "X-Ingest-Sha256 is not text")?;
        return text
            .trim()
            .to_ascii_lowercase()
            .parse()
            .map(Some)
            .map_err(|_| "X-Ingest-Sha256 is not 64 hex digits".to_owned());
    }
    let Some(value) = headers.get("repr-digest") else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| "Repr-Digest is not text")?;
    let Some(b64) = text.split(',').find_map(|item| {
        let (algorithm, value) = item.trim().split_once('=')?;
        algorithm
            .trim()
            .eq_ignore_ascii_case("sha-256")
            .then_some(value)
    }) else {
        // Other algorithms only: nothing we check.
        return Ok(None);
    };
    let bytes = b64
        .trim()
        .strip_prefix(':')
        .and_then(|v| v.strip_suffix(':'))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or("Repr-Digest's sha-256 is not :BASE64: of 32 bytes")?;
    Ok(Some(ObjectId::from_bytes(bytes)))
}

/// `POST /v1/upload`: `multipart/form-data`, each file part streamed
/// through the pass in turn as it arrives.
async fn upload(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Response {
    let answer = async {
        auth::may_write(&caller)?;
        let _slot = match upload_permit(&shared, &caller) {
            Ok(permit) => permit,
            Err(busy) => return Err(unread(request, busy)),
        };
        let headers = request.headers().clone();
        let boundary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(multipart::boundary)
            .ok_or_else(|| {
                closing(error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "expected multipart/form-data with a boundary (or PUT /v1/files/NAME with the file as the body)",
                ))
            })?;
        let remote = request.extensions().get::<Remote>().copied();
        let body = request.into_body().into_data_stream();
        let mut form = Multipart::new(body, &boundary);
        let mut reports: Vec<FileReport> = Vec::new();
        let mut parts = 0usize;
        // Why the request's parts were not all read, when they were not.
        let problem = loop {
            let next = tokio::time::timeout(shared.body_timeout, form.next_part()).await;
            let part = match next {
                Ok(Ok(Some(part))) => part,
                Ok(Ok(None)) => return Ok(upload_answer(reports, None)),
                Ok(Err(malformed)) => break malformed_answer(&malformed),
                Err(_) => {
                    let stalled = (StatusCode::REQUEST_TIMEOUT, "the upload stalled".to_owned());
                    return Ok(upload_answer(reports, Some(stalled)));
                }
            };
            parts += 1;
            if parts > MAX_PARTS {
                let why = format!("more than {MAX_PARTS} parts in one request");
                break (StatusCode::PAYLOAD_TOO_LARGE, why);
            }
            let Some(name) = multipart::file_name(&part) else {
                // A form field, not a file: read, within its limit.
                if !discard(&mut form.data(), &mut { multipart::MAX_FIELD_BYTES }).await {
                    let why = format!(
                        "a form field is over {} KiB, or its part is malformed",
                        multipart::MAX_FIELD_BYTES / 1024
                    );
                    break (StatusCode::PAYLOAD_TOO_LARGE, why);
                }
                continue;
            };
            if name.len() > MAX_NAME_BYTES {
                break (
                    StatusCode::BAD_REQUEST,
                    "a file name is too long".to_owned(),
                );
            }
            let declared = part
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let described = described(&name, declared, None, &caller, remote, &headers);
            let (report, pumped) = receive_body(&shared, &mut form.data(), None, described).await;
            // Too large: the answer is 413 (as for a PUT) and the rest of
            // the body is not stored; a broken client ends the request.
            let too_large = report.reason == Some("too_large");
            let shown = report.name.clone();
            reports.push(report);
            if pumped == Pumped::Broken {
                return Ok(upload_answer(reports, None));
            }
            if too_large {
                let why = format!("{shown:?} is over the size limit");
                break (StatusCode::PAYLOAD_TOO_LARGE, why);
            }
        };
        // Only an answer before the body ended leaves the loop here (a file
        // too large, a problem): the rest is read and thrown away after it.
        linger(async move {
            let mut budget = LINGER_BYTES;
            while discard(&mut form.data(), &mut budget).await {
                if !matches!(form.next_part().await, Ok(Some(_))) {
                    break;
                }
            }
        });
        Ok::<_, Response>(upload_answer(reports, Some(problem)))
    };
    answer.await.unwrap_or_else(|refused| refused)
}

/// The answer to a body that is not multipart as it should be.
fn malformed_answer(malformed: &multipart::Malformed) -> (StatusCode, String) {
    let status = match malformed {
        multipart::Malformed::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        multipart::Malformed::Invalid(_) | multipart::Malformed::Cut(_) => StatusCode::BAD_REQUEST,
    };
    (
        status,
        format!("the multipart body is malformed: {malformed}"),
    )
}

/// The answer to a multipart upload: each file, and the totals. The status
/// is 200 when every file went in; else that of the first one that did
/// not (413, 415, 422, 503, 507...), so a client of one file sees its fate
/// in the status alone. A `problem` that stopped the request before its
/// end is said in `not_read`: the parts after the files listed were not
/// read, and must be sent again.
fn upload_answer(reports: Vec<FileReport>, problem: Option<(StatusCode, String)>) -> Response {
    if reports.is_empty()
        && let Some((status, why)) = &problem
    {
        return closing(error(*status, why));
    }
    let count = |status: Fate| reports.iter().filter(|r| r.status == status).count();
    let saved: u64 = reports
        .iter()
        .filter(|r| r.status == Fate::Duplicate)
        .filter_map(|r| r.size)
        .sum();
    let status = reports
        .iter()
        .find(|r| !r.went_in())
        .map(|r| StatusCode::from_u16(r.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .or(problem.as_ref().map(|(status, _)| *status))
        .unwrap_or(StatusCode::OK);
    let mut body = json!({
        "files": reports,
        "totals": {
            "new": count(Fate::New),
            "duplicates": count(Fate::Duplicate),
            "rejected": count(Fate::Rejected),
            "failed": count(Fate::Failed),
            "bytes_saved": saved,
        },
    });
    if let Some((_, why)) = problem {
        body["not_read"] = json!(format!(
            "{why}: the request's parts after the files listed were not read; send them again"
        ));
    }
    let response = (status, Json(body)).into_response();
    match status.is_success() {
        true => response,
        false => closing(response),
    }
}

/// `HEAD` and `GET /v1/objects/{sha256}`: the object, with its type, an
/// ETag, one byte range if asked. A whole object is hashed as it goes out;
/// if its bytes have rotted, the answer is cut off rather than completed.
async fn get_object(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(hex): Path<String>,
    headers: HeaderMap,
) -> Response {
    let id = match object_id(&hex) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let etag = format!("\"{id}\"");
    let looked_up = look_up(&shared, id, "no such object in the store", |shared, id| {
        let size = shared.view.object_size(id)?;
        let mime = size.map(|_| shared_type(shared, id));
        Ok(size.zip(mime))
    });
    let (size, mime) = match looked_up.await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let mut builder = immutable(&etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_TYPE, mime.as_str());
    if !crate::media_type::shown_inline(&mime) {
        let disposition = format!("attachment; filename=\"{id}\"");
        builder = builder.header(header::CONTENT_DISPOSITION, disposition);
    }
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()));
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(text) => match parse_range(text, size) {
            Ok(range) => range,
            Err(()) => {
                return builder
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                    .body(Body::empty())
                    .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()));
            }
        },
    };
    let (start, len) = match range {
        Some((start, end)) => {
            builder = builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            (start, end - start + 1)
        }
        None => (0, size),
    };
    builder = builder.header(header::CONTENT_LENGTH, len);
    let body = match method {
        Method::HEAD => Body::empty(),
        _ => object_body(shared, id, start, len, range.is_none()),
    };
    builder
        .body(body)
        .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

/// `GET /v1/objects/SHA256/thumbnail`: the small JPEG a camera keeps in a
/// JPEG's EXIF block, read from the object's first bytes ([`HEAD_LEN`]),
/// for a grid that should not fetch whole photos; 404 when the object has
/// none (the page then shows the object itself).
///
/// [`HEAD_LEN`]: crate::thumbnail::HEAD_LEN
async fn get_thumbnail(State(shared): State<Arc<Shared>>, Path(hex): Path<String>) -> Response {
    let id = match object_id(&hex) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let found = look_up(&shared, id, "no thumbnail in this object", |shared, id| {
        if shared_type(shared, id) != "image/jpeg" {
            return Ok(None);
        }
        // No further than the object's end: S3 refuses a range past it.
        let Some(size) = shared.view.object_size(id)? else {
            return Ok(None);
        };
        let limit = size.min(crate::thumbnail::HEAD_LEN);
        let mut head = Vec::new();
        shared
            .view
            .read_object_range(id, 0, Some(limit))?
            .take(limit)
            .read_to_end(&mut head)?;
        Ok(crate::thumbnail::exif_thumbnail(&head)
            .map(|found| crate::thumbnail::thumbnail_bytes(&head, &found)))
    });
    let thumbnail = match found.await {
        Ok(thumbnail) => thumbnail,
        Err(answer) => return answer,
    };
    immutable(&format!("\"{id}-thumbnail\""))
        .header(header::CONTENT_TYPE, "image/jpeg")
        .body(Body::from(thumbnail))
        .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

/// The object a path names, or the 400 that says it names none.
fn object_id(hex: &str) -> Result<ObjectId, Response> {
    hex.parse().map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "expected a SHA-256 in 64 hex digits",
        )
    })
}

/// Looks something up about object `id` in the store, off the runtime's
/// threads: None is a 404 saying `missing`, a store error a 500 (logged).
async fn look_up<T: Send + 'static>(
    shared: &Arc<Shared>,
    id: ObjectId,
    missing: &'static str,
    find: impl FnOnce(&Shared, &ObjectId) -> anyhow::Result<Option<T>> + Send + 'static,
) -> Result<T, Response> {
    let shared = Arc::clone(shared);
    // Within the budget of object reads: a crowd of requests for objects
    // waits here, not on threads of its own.
    let Ok(_permit) = Arc::clone(&shared.reads).acquire_owned().await else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is stopping",
        ));
    };
    match tokio::task::spawn_blocking(move || find(&shared, &id)).await {
        Ok(Ok(Some(found))) => Ok(found),
        Ok(Ok(None)) => Err(error(StatusCode::NOT_FOUND, missing)),
        Ok(Err(e)) => {
            tracing::error!("reading object {id}: {e:#}");
            Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the store could not be read",
            ))
        }
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

/// An answer of stored bytes, which never change: cached for a year under
/// `etag`, never sniffed, never run.
fn immutable(etag: &str) -> axum::http::response::Builder {
    Response::builder()
        .header(header::ETAG, etag)
        .header(
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        )
}

/// The type recorded for an object, as one valid media type: a store
/// written before types were cleaned on the way in may hold a list or a
/// newline, which goes out as octet-stream (an attachment) like a type
/// nobody recorded.
fn shared_type(shared: &Shared, id: &ObjectId) -> String {
    shared
        .types
        .get(shared.view.as_ref(), id)
        .and_then(|mime| crate::media_type::clean(&mime))
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

/// One `bytes=` range of an object of `size` bytes, as (first, last); None
/// for a header this server does not use (several ranges: the whole
/// object is sent); Err when no byte of it exists.
fn parse_range(text: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (first, last) = spec.split_once('-').ok_or(())?;
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        let suffix: u64 = last.parse().map_err(|_| ())?;
        if suffix == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(suffix), size - 1)
    } else {
        let first: u64 = first.parse().map_err(|_| ())?;
        let last = match last {
            "" => size.saturating_sub(1),
            last => last
                .parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1)),
        };
        if first >= size || last < first {
            return Err(());
        }
        (first, last)
    };
    Ok(Some(range))
}

/// Bytes of an object read for an answer at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Streams `len` bytes of an object from `start`; `check` hashes a whole
/// object on the way and cuts the answer off if its bytes are not what its
/// name says.
///
/// The object is opened when the client first has room for its bytes, and
/// each chunk is read on the blocking pool only when asked for, within the
/// server's budget of reads ([`super::MAX_READS`]): a client that reads
/// slowly, or never (an HTTP/2 stream with its window shut), holds no
/// thread, and until its first chunk no file either.
fn object_body(shared: Arc<Shared>, id: ObjectId, start: u64, len: u64, check: bool) -> Body {
    let reading = ObjectRead {
        shared,
        id,
        start,
        left: len,
        check,
        reader: None,
        open: None,
        hasher: Sha256::new(),
    };
    let stream = futures_util::stream::unfold(Some(reading), |reading| async move {
        let mut reading = reading.filter(|r| r.left > 0)?;
        if reading.open.is_none() {
            let opened = Arc::clone(&reading.shared.downloads).acquire_owned().await;
            let Ok(opened) = opened else {
                return Some((Err(io::Error::other("the server is stopping")), None));
            };
            reading.open = Some(opened);
        }
        let budget = Arc::clone(&reading.shared.reads);
        let Ok(_permit) = budget.acquire_owned().await else {
            return Some((Err(io::Error::other("the server is stopping")), None));
        };
        let read = tokio::task::spawn_blocking(move || {
            let mut reading = reading;
            let chunk = reading.next_chunk();
            (reading, chunk)
        });
        match read.await {
            Ok((reading, Ok(chunk))) => Some((Ok(chunk), Some(reading))),
            Ok((reading, Err(e))) => {
                tracing::error!("sending object {}: {e:#}", reading.id);
                Some((Err(io::Error::other(e.to_string())), None))
            }
            Err(e) => Some((Err(io::Error::other(e.to_string())), None)),
        }
    });
    Body::from_stream(stream)
}

/// An object being read for an answer.
struct ObjectRead {
    shared: Arc<Shared>,
    id: ObjectId,
    start: u64,
    left: u64,
    check: bool,
    reader: Option<Box<dyn Read + Send>>,
    /// Its place among the downloads open at once, from its first chunk.
    open: Option<tokio::sync::OwnedSemaphorePermit>,
    hasher: Sha256,
}

impl Drop for ObjectRead {
    /// A reader is dropped on the blocking pool: an S3 reader blocks on its
    /// runtime as it goes, which a thread of the server's runtime must not.
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(move || drop(reader))),
                Err(_) => drop(reader),
            }
        }
    }
}

impl ObjectRead {
    /// The next chunk (blocking).
    fn next_chunk(&mut self) -> anyhow::Result<Bytes> {
        let reader = match &mut self.reader {
            Some(reader) => reader,
            // A whole object is read to its end, ranges only as far as
            // they go.
            None => self.reader.insert(self.shared.view.read_object_range(
                &self.id,
                self.start,
                (!self.check).then_some(self.left),
            )?),
        };
        let want = READ_CHUNK.min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let mut buf = vec![0u8; want];
        let n = reader.read(&mut buf)?;
        if n == 0 {
            anyhow::bail!("the object ended {} bytes early", self.left);
        }
        buf.truncate(n);
        self.left -= n as u64;
        if self.check {
            self.hasher.update(&buf);
            if self.left == 0 && ObjectId::from_bytes(self.hasher.clone().finalize()) != self.id {
                anyhow::bail!("its bytes do not hash to its name (run ingest verify)");
            }
        }
        Ok(Bytes::from(buf))
    }
}

#[derive(Debug, Deserialize)]
struct EntriesQuery {
    /// A type or pattern (image/*).
    #[serde(rename = "type")]
    mime: Option<String>,
    /// Part of the name, any case.
    name: Option<String>,
    /// Stored at or after: an RFC 3339 time, or a prefix of one ending at
    /// a field (2026, 2026-11, 2026-11-01, 2026-11-01T12, 2026-11-01T12:30).
    since: Option<String>,
    /// Stored before; the same forms.
    until: Option<String>,
    /// image, video, audio, document or other: what the page filters by.
    kind: Option<String>,
    cursor: Option<u64>,
    limit: Option<usize>,
}

/// Every kind [`kind_of`] gives, for checking a filter.
const KINDS: [&str; 5] = ["image", "video", "audio", "document", "other"];

/// What a type is, as the page groups them: image, video, audio,
/// document or other.
pub fn kind_of(mime: &str) -> &'static str {
    let document = mime == "application/pdf"
        || mime.starts_with("text/")
        || ["document", "msword", "spreadsheet", "presentation"]
            .iter()
            .any(|k| mime.contains(k));
    match mime.split('/').next() {
        Some("image") => "image",
        Some("video") => "video",
        Some("audio") => "audio",
        _ if document => "document",
        _ => "other",
    }
}

/// The most entries one page holds.
const MAX_PAGE: usize = 1000;

/// `GET /v1/entries`: the newest first, a page at a time; `next` is the
/// cursor of the page after.
async fn entries(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<EntriesQuery>, QueryRejection>,
) -> Response {
    let filter = match query {
        Ok(Query(query)) => EntriesFilter::new(query),
        Err(rejection) => Err(rejection.body_text()),
    };
    let filter = match filter {
        Ok(filter) => filter,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    // A crowd of listings waits here, leaving the blocking pool to others.
    let Ok(_permit) = Arc::clone(&shared.listings).acquire_owned().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    };
    let page = tokio::task::spawn_blocking(move || entries_page(&shared, &filter)).await;
    match page {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(e)) => {
            tracing::error!("reading the manifest: {e:#}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the manifest could not be read",
            )
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// An entries query, checked: a filter that cannot match anything is the
/// client's mistake, said as such, never an empty page.
struct EntriesFilter {
    query: EntriesQuery,
    mime: Option<MimePattern>,
    /// Lower-cased part of a name.
    needle: Option<String>,
    /// Bounds in the manifest's own form (RFC 3339, UTC, to the second),
    /// so they compare with its dates as text.
    since: Option<String>,
    until: Option<String>,
}

impl EntriesFilter {
    fn new(query: EntriesQuery) -> Result<Self, String> {
        let mime = query
            .mime
            .as_deref()
            .map(str::parse::<MimePattern>)
            .transpose()
            .map_err(|e| format!("type: {e:#}"))?;
        if let Some(kind) = query.kind.as_deref()
            && !KINDS.contains(&kind)
        {
            return Err(format!("kind: {kind:?} is none of {}", KINDS.join(", ")));
        }
        let bound = |name: &str, text: Option<&str>| {
            text.map(|text| time_bound(text).map_err(|why| format!("{name}: {why}")))
                .transpose()
        };
        Ok(EntriesFilter {
            mime,
            needle: query.name.as_deref().map(str::to_lowercase),
            since: bound("since", query.since.as_deref())?,
            until: bound("until", query.until.as_deref())?,
            query,
        })
    }

    fn fits(&self, entry: &Entry) -> bool {
        let at = entry.ingested_at.as_str();
        self.mime.as_ref().is_none_or(|m| m.matches(&entry.mime))
            && (self.query.kind.as_deref()).is_none_or(|k| kind_of(&entry.mime) == k)
            && (self.needle.as_deref()).is_none_or(|n| entry.name.to_lowercase().contains(n))
            && self.since.as_deref().is_none_or(|since| at >= since)
            && self.until.as_deref().is_none_or(|until| at < until)
    }
}

/// A date bound ([`crate::manifest::parse_date_bound`]) as the manifest
/// writes dates (`2026-11-01T00:00:00Z`), so the two compare as text: a
/// part second is taken to the next whole one, the manifest's dates being
/// whole seconds.
fn time_bound(text: &str) -> Result<String, String> {
    let at = crate::manifest::parse_date_bound(text)?;
    let second = jiff::TimestampRound::new()
        .smallest(jiff::Unit::Second)
        .mode(jiff::RoundMode::Ceil);
    at.round(second)
        .map(|at| at.to_string())
        .map_err(|e| format!("{text:?}: {e}"))
}

/// One page, read in one pass over the manifest, keeping only the page's
/// entries (the newest matching ones below the cursor).
fn entries_page(shared: &Shared, filter: &EntriesFilter) -> anyhow::Result<serde_json::Value> {
    let query = &filter.query;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let fits = |entry: &Entry| filter.fits(entry);
    // One more than a page, to know whether another follows.
    let mut newest: VecDeque<(u64, Entry)> = VecDeque::with_capacity(limit + 1);
    for (index, line) in shared.view.entries()?.enumerate() {
        let index = index as u64;
        if query.cursor.is_some_and(|cursor| index >= cursor) {
            break;
        }
        let Line::Value(entry) = line? else { continue };
        if fits(&entry) {
            if newest.len() > limit {
                newest.pop_front();
            }
            newest.push_back((index, entry));
        }
    }
    let more = newest.len() > limit;
    if more {
        newest.pop_front();
    }
    let next = more.then(|| newest.front().map(|(index, _)| index.to_string()));
    let entries: Vec<serde_json::Value> = newest
        .into_iter()
        .rev()
        .map(|(index, entry)| {
            let mut value = serde_json::to_value(&entry).unwrap_or_default();
            value["id"] = json!(index);
            // The page groups by this; it is the one definition of a kind.
            value["kind"] = json!(kind_of(&entry.mime));
            value
        })
        .collect();
    Ok(json!({ "entries": entries, "next": next.flatten() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_take_the_manifests_form() {
        assert_eq!(time_bound("2026-11").unwrap(), "2026-11-01T00:00:00Z");
        assert_eq!(
            time_bound("2026-11-05T12:30:00+02:00").unwrap(),
            "2026-11-05T10:30:00Z"
        );
        // The manifest's dates are whole seconds.
        assert_eq!(
            time_bound("2026-11-05T12:30:00.25Z").unwrap(),
            "2026-11-05T12:30:01Z"
        );
        assert!(time_bound("yesterday").is_err());
    }
}
