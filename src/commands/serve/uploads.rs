//! `PUT /v1/files/NAME` and `POST /v1/upload`: upload slots, what is
//! recorded of an upload, and the answers.

use std::ffi::OsString;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use serde_json::json;

use super::answers::{closing, error, report_response};
use super::auth::{self, Caller};
use super::body::content_length;
use super::body::{LINGER_BYTES, Pumped, discard, linger, linger_over, receive_body, unread};
use super::connections::Remote;
use super::engine::{Fate, FileReport};
use super::multipart::{self, Multipart};
use super::{MAX_NAME_BYTES, MAX_PARTS, Shared};
use crate::engine::Described;
use crate::failure::Failure;
use crate::manifest::Origin;
use crate::object_id::ObjectId;

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

pub(super) fn upload_permit(shared: &Arc<Shared>, caller: &Caller) -> Result<UploadSlot, Response> {
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
pub(super) fn described(
    raw_name: &str,
    declared: Option<String>,
    expected: Option<ObjectId>,
    caller: &Caller,
    remote: Option<Remote>,
    headers: &HeaderMap,
) -> Described {
    let remote = remote.map(|r| r.0.ip().to_string());
    described_as(
        raw_name,
        declared,
        expected,
        &caller.name,
        remote,
        user_agent(headers),
    )
}

/// The request's User-Agent, as recorded: lossy text, at most 256
/// characters.
pub(super) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers.get(header::USER_AGENT).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(256)
            .collect()
    })
}

/// [`described`] from what was kept of the request (a partial upload's
/// creation): the token's name, the client's address and User-Agent.
pub(super) fn described_as(
    raw_name: &str,
    declared: Option<String>,
    expected: Option<ObjectId>,
    token: &str,
    remote: Option<String>,
    user_agent: Option<String>,
) -> Described {
    let name = one_component(raw_name);
    let path = relative_path(raw_name).filter(|path| path.contains('/'));
    Described {
        name: OsString::from(name),
        // Uploads of one name by one token are one record, as a file's
        // path is: sent again, the upload is a duplicate, not a new line.
        source: OsString::from(format!("http:{token}")),
        declared_mime: declared
            .and_then(|d| crate::media_type::clean(&d))
            .filter(|d| d != "application/octet-stream"),
        origin: Some(Origin {
            kind: "http".to_owned(),
            remote,
            token: Some(token.to_owned()),
            user_agent,
            ..Origin::default()
        }),
        expected,
        path: path.map(OsString::from),
    }
}

/// A client's name as a relative path (`attachments/2024/diagram.png`),
/// made safe on the way in: `/`-separated (a `\\` counts as one), no empty
/// or `.` part, each part without control characters and cut to the name
/// limit. None for a path that is absolute or climbs out (`..`): then the
/// upload keeps its last component alone, as its name.
pub(super) fn relative_path(raw: &str) -> Option<String> {
    if raw.starts_with(['/', '\\']) {
        return None;
    }
    let mut parts = Vec::new();
    for part in raw.split(['/', '\\']) {
        let cleaned: String = part
            .chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect();
        match cleaned.trim() {
            "" | "." => continue,
            ".." => return None,
            part => parts.push(crate::names::shorten(part.to_owned())),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// A client's name for an upload as one path component: what follows its
/// last `/` or `\\`, without control characters, never `.` or `..`, cut to
/// 240 bytes as `export` cuts (keeping the extension). Characters only some
/// systems refuse (`<`, `:`...) stay: the name is a record, shown as text,
/// and `export` makes it safe for the system it writes to.
pub(super) fn one_component(raw: &str) -> String {
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

/// A body whose declared length is over --max-size: refused before it is
/// read (so a client that sent `Expect: 100-continue` sends nothing).
pub(super) fn refuse_by_length(
    shared: &Shared,
    headers: &HeaderMap,
    name: &str,
) -> Result<(), Response> {
    let (Some(limit), Some(length)) = (shared.policy.max_size, content_length(headers)) else {
        return Ok(());
    };
    if length <= limit {
        return Ok(());
    }
    let rejection = crate::failure::Rejection::TooLarge {
        limit,
        by: shared.policy.max_size_from,
    };
    let report = FileReport::failed(name, &Failure::Rejected(rejection));
    Err(closing(report_response(report)))
}

/// `PUT /v1/files/{name}`: the body is one file.
pub(super) async fn put_file(
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
pub(super) fn expected_digest(headers: &HeaderMap) -> Result<Option<ObjectId>, String> {
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
pub(super) async fn upload(
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
pub(super) fn malformed_answer(malformed: &multipart::Malformed) -> (StatusCode, String) {
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
pub(super) fn upload_answer(
    reports: Vec<FileReport>,
    problem: Option<(StatusCode, String)>,
) -> Response {
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
