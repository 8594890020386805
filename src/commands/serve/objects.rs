//! `GET /v1/objects/SHA256` (whole, ranged, checked as it goes) and its
//! thumbnail.

use std::io::{self, Read};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use super::Shared;
use super::answers::{error, immutable};
use crate::hashing::Sha256;
use crate::object_id::ObjectId;

/// `HEAD` and `GET /v1/objects/{sha256}`: the object, with its type, an
/// ETag, one byte range if asked. A whole object is hashed as it goes out;
/// if its bytes have rotted, the answer is cut off rather than completed.
pub(super) async fn get_object(
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
pub(super) async fn get_thumbnail(
    State(shared): State<Arc<Shared>>,
    Path(hex): Path<String>,
) -> Response {
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
pub(super) fn object_id(hex: &str) -> Result<ObjectId, Response> {
    hex.parse().map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "expected a SHA-256 in 64 hex digits",
        )
    })
}

/// Looks something up about object `id` in the store, off the runtime's
/// threads: None is a 404 saying `missing`, a store error a 500 (logged).
pub(super) async fn look_up<T: Send + 'static>(
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

/// The type recorded for an object, as one valid media type: a store
/// written before types were cleaned on the way in may hold a list or a
/// newline, which goes out as octet-stream (an attachment) like a type
/// nobody recorded.
pub(super) fn shared_type(shared: &Shared, id: &ObjectId) -> String {
    let facts = shared.view.object_facts(id).unwrap_or_else(|e| {
        tracing::warn!("reading the manifest: {e:#}");
        None
    });
    facts
        .and_then(|facts| crate::media_type::clean(&facts.mime))
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

/// One `bytes=` range of an object of `size` bytes, as (first, last); None
/// for a header this server does not use (several ranges: the whole
/// object is sent); Err when no byte of it exists.
pub(super) fn parse_range(text: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
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
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// Streams `len` bytes of an object from `start`; `check` hashes a whole
/// object on the way and cuts the answer off if its bytes are not what its
/// name says.
///
/// The object is opened when the client first has room for its bytes, and
/// each chunk is read on the blocking pool only when asked for, within the
/// server's budget of reads ([`super::MAX_READS`]): a client that reads
/// slowly, or never (an HTTP/2 stream with its window shut), holds no
/// thread, and until its first chunk no file either.
pub(super) fn object_body(
    shared: Arc<Shared>,
    id: ObjectId,
    start: u64,
    len: u64,
    check: bool,
) -> Body {
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
pub(super) struct ObjectRead {
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

/// The most hashes one check asks about.
pub(super) const MAX_CHECKED: usize = 10_000;

/// `POST /v1/objects/check` with `{"sha256": ["HEX", ...]}`: which of
/// these the store holds, so a client with many files sends only the
/// others (answered from the catalog, one indexed look each).
pub(super) async fn check_objects(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
) -> Response {
    // 10,000 hashes in JSON are about 670 KB.
    let body = match axum::body::to_bytes(request.into_body(), 1 << 20).await {
        Ok(body) => body,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is over 1 MiB (at most 10,000 hashes)",
            );
        }
    };
    #[derive(serde::Deserialize)]
    struct Asked {
        sha256: Vec<String>,
    }
    let asked: Asked = match serde_json::from_slice(&body) {
        Ok(asked) => asked,
        Err(e) => {
            let why = format!("expected {{\"sha256\": [\"HEX\", ...]}}: {e}");
            return error(StatusCode::BAD_REQUEST, &why);
        }
    };
    if asked.sha256.len() > MAX_CHECKED {
        let why = format!("at most {MAX_CHECKED} hashes in one check");
        return error(StatusCode::PAYLOAD_TOO_LARGE, &why);
    }
    let mut ids = Vec::with_capacity(asked.sha256.len());
    for hex in &asked.sha256 {
        match hex.trim().to_ascii_lowercase().parse::<ObjectId>() {
            Ok(id) => ids.push(id),
            Err(_) => {
                let why = format!(
                    "{:?} is not a SHA-256 (64 hex digits)",
                    hex.chars().take(80).collect::<String>()
                );
                return error(StatusCode::BAD_REQUEST, &why);
            }
        }
    }
    let Ok(_permit) = Arc::clone(&shared.listings).acquire_owned().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    };
    let looked =
        tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<String>, Vec<String>)> {
            let mut known = vec![false; ids.len()];
            // One catch-up of the catalog, then an indexed look per hash.
            let asked = shared.view.with_catalog(true, &mut |catalog, _| {
                for (id, known) in ids.iter().zip(known.iter_mut()) {
                    *known = catalog.facts(id)?.is_some();
                }
                Ok(())
            })?;
            if !asked {
                for (id, known) in ids.iter().zip(known.iter_mut()) {
                    *known = shared.view.object_facts(id)?.is_some();
                }
            }
            let (mut present, mut missing) = (Vec::new(), Vec::new());
            for (id, known) in ids.iter().zip(known) {
                match known {
                    true => present.push(id.to_string()),
                    false => missing.push(id.to_string()),
                }
            }
            Ok((present, missing))
        });
    match looked.await {
        Ok(Ok((present, missing))) => {
            axum::response::IntoResponse::into_response(axum::Json(serde_json::json!({
                "present": present,
                "missing": missing,
            })))
        }
        Ok(Err(e)) => {
            tracing::error!("checking objects: {e:#}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the catalog could not be read",
            )
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
