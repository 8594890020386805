//! Both ends of an upload's body: pumping it from the connection into a
//! bounded channel, and throwing away what is not read (a lingering close).

use std::fmt::Display;
use std::io::{self};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::Shared;
use super::engine::{BodyReader, Fate, FileReport, Piece};
use crate::engine::Described;
use crate::failure::Failure;

/// Chunks of one upload on their way to its thread, at most; each is at
/// most the connection's read buffer. Measured (five 50 MB uploads, then
/// 100 concurrent 1 MB ones, release build), with 64 KiB buffers: with one,
/// a 50 MB upload took about 1.5x as long as with four; eight saved a
/// little more time but cost 49 MiB of peak RSS against 39 MiB with four.
/// With 32 KiB buffers and the chunks shared with the pass, one, two or four
/// made little difference to that peak (25-30 MiB).
pub(super) const PIECES_IN_FLIGHT: usize = 4;

/// How pumping a body into the engine ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pumped {
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
pub(super) async fn receive_body<S, E>(
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
    if let Some(sha256) = &report.sha256
        && let Ok(id) = sha256.parse()
        && report.status == Fate::Duplicate
    {
        // A copy stored before is dated from the manifest: its first entry
        // (this upload's own line is later, or not written at all).
        let shared = Arc::clone(shared);
        let since = tokio::task::spawn_blocking(move || shared.view.object_facts(&id));
        report.stored_since = match since.await {
            Ok(Ok(facts)) => facts.and_then(|f| f.since),
            _ => None,
        };
    }
    (report, pumped)
}

pub(super) async fn pump<S, E>(
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

/// How long, and how many more bytes of it, the body of an upload answered
/// before it ended is read and thrown away after the answer (a lingering
/// close, as Apache and nginx do): closing a connection with unread bytes
/// makes the kernel reset it, and a client still sending can lose the
/// answer to that reset. Clients that see the answer stop sending.
pub(super) const LINGER: Duration = Duration::from_secs(5);
pub(super) const LINGER_BYTES: u64 = 64 << 20;

/// Runs `drain` (the rest of a body, thrown away) beside the answer, for
/// at most [`LINGER`]; the connection closes when it ends.
pub(super) fn linger(drain: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(LINGER, drain).await;
    });
}

/// Lingers over the rest of a body: [`linger`] with [`discard`].
pub(super) fn linger_over<S, E>(mut body: S)
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
pub(super) fn unread(request: Request, answer: Response) -> Response {
    if !expects_continue(request.headers()) {
        linger_over(request.into_body().into_data_stream());
    }
    answer
}

/// Whether the client waits for `100 Continue` before it sends its body.
pub(super) fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// Reads `body` to its end and throws it away, unless it passes `budget`
/// bytes: whether it ended within them.
pub(super) async fn discard<S, E>(body: &mut S, budget: &mut u64) -> bool
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

/// The request's or response's `Content-Length`, when it says one.
pub(super) fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}
