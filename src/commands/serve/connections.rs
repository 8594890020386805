//! Every connection bounded in time and in count, whatever its client sends
//! or does not send.
//!
//! Each connection has a watchdog that closes it when:
//! - no request has arrived within `--header-timeout` of its opening: a
//!   client that sends nothing, part of a request head, or part of the
//!   HTTP/2 preface and settings, before any protocol is known;
//! - no request has been in flight for `--idle-timeout` (HTTP/1.1
//!   keep-alive, HTTP/2, alike);
//! - an answer has waited `--send-timeout` for its client to take its next
//!   chunk: an HTTP/1.1 client that stopped reading, or an HTTP/2 stream
//!   whose window stays shut (hyper does not ask an answer's body for
//!   bytes until the stream has room, so only a clock outside it can tell);
//! - the server is stopping and nothing is in flight on it.
//!
//! At most `--max-connections` are open; at that limit a new one closes the
//! connection idle the longest, or is refused with a 503 if none is idle.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// The connection limits, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub send_timeout: Duration,
}

/// Milliseconds since the server started: what the watchdogs compare.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// No request within the header timeout.
    NoRequest,
    /// Nothing in flight for the idle timeout.
    Idle,
    /// An answer's client took nothing for the send timeout.
    NotReading,
    /// Closed for a new connection at the limit.
    Evicted,
    /// The server is stopping.
    Stopping,
}

/// What one connection is doing, shared by its watchdog, its service and
/// the bodies of its answers.
pub struct Activity {
    opened: u64,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// When a request last began or ended.
    last_change: AtomicU64,
    answers: Mutex<Vec<Weak<AnswerClock>>>,
    evicted: AtomicBool,
    wake: Notify,
}

impl Activity {
    fn new() -> Arc<Activity> {
        let now = now_ms();
        Arc::new(Activity {
            opened: now,
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last_change: AtomicU64::new(now),
            answers: Mutex::new(Vec::new()),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    /// A request begins; in flight until the guard (moved into its
    /// answer's body) is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.last_change.store(now_ms(), Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }

    /// Since when it has been idle, for choosing whom to evict.
    fn idle_since(&self) -> Option<u64> {
        self.is_idle()
            .then(|| self.last_change.load(Ordering::Relaxed))
    }

    /// Why it should close now, if it should.
    fn verdict(&self, limits: &Limits, stopping: bool) -> Option<Close> {
        let now = now_ms();
        let past = |since: u64, limit: Duration| {
            now.saturating_sub(since) >= u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)
        };
        if self.evicted.load(Ordering::Relaxed) {
            return Some(Close::Evicted);
        }
        if self.is_idle() {
            if stopping {
                return Some(Close::Stopping);
            }
            let last = self.last_change.load(Ordering::Relaxed);
            match self.requests.load(Ordering::Relaxed) {
                0 if past(self.opened, limits.header_timeout) => return Some(Close::NoRequest),
                0 => {}
                _ if past(last, limits.idle_timeout) => return Some(Close::Idle),
                _ => {}
            }
        }
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers.retain(|answer| answer.strong_count() > 0);
        let stuck = answers.iter().filter_map(Weak::upgrade).any(|answer| {
            let since = answer.waiting_since.load(Ordering::Relaxed);
            since != 0 && past(since - 1, limits.send_timeout)
        });
        stuck.then_some(Close::NotReading)
    }
}

/// A request in flight on its connection.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.last_change.store(now_ms(), Ordering::Relaxed);
    }
}

/// Whether an answer waits for its client: 0 when not, else 1 + the time
/// (in [`now_ms`]) since which it has had bytes ready and nobody took them.
struct AnswerClock {
    waiting_since: AtomicU64,
}

/// An answer's body, clocked: its connection's watchdog sees when the
/// client stops taking it.
pub struct Clocked {
    inner: Body,
    clock: Arc<AnswerClock>,
    _in_flight: InFlight,
}

impl Clocked {
    /// `response`'s body clocked, the request in flight until it is done.
    pub fn wrap(response: Response, in_flight: InFlight) -> Response {
        let activity = Arc::clone(&in_flight.0);
        response.map(|inner| {
            use http_body::Body as _;
            // An empty body is never asked for bytes: nothing to wait for.
            let since = match inner.is_end_stream() {
                true => 0,
                false => now_ms() + 1,
            };
            let clock = Arc::new(AnswerClock {
                waiting_since: AtomicU64::new(since),
            });
            let mut answers = activity.answers.lock().unwrap_or_else(|p| p.into_inner());
            answers.push(Arc::downgrade(&clock));
            drop(answers);
            Body::new(Clocked {
                inner,
                clock,
                _in_flight: in_flight,
            })
        })
    }
}

impl http_body::Body for Clocked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // Ready with bytes: they wait for the client until the next ask.
        // Pending: the server is making them, which is not the client's
        // fault. Ended: nothing more to wait for.
        let since = match &polled {
            Poll::Ready(Some(Ok(_))) => now_ms() + 1,
            _ => 0,
        };
        self.clock.waiting_since.store(since, Ordering::Relaxed);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The open connections, for the limit and for eviction.
pub struct Registry {
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next: AtomicU64,
    /// Woken whenever one closes.
    closed: Notify,
    stopping: tokio::sync::watch::Sender<bool>,
}

/// A connection's place in the registry, given back when dropped.
pub struct Registered {
    registry: Arc<Registry>,
    key: u64,
    pub activity: Arc<Activity>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut open = self.registry.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(&self.key);
        drop(open);
        self.registry.closed.notify_waiters();
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            open: Mutex::default(),
            next: AtomicU64::new(0),
            closed: Notify::new(),
            stopping: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Registry {
    pub fn len(&self) -> usize {
        self.open.lock().map_or(0, |open| open.len())
    }

    /// A place for a new connection: under the limit at once; at it, the
    /// connection idle the longest is closed first and its place taken
    /// (waiting a moment for it to go); None if every one is busy.
    pub async fn admit(self: &Arc<Self>, limit: usize) -> Option<Registered> {
        if self.len() >= limit {
            let victim = {
                let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
                open.values()
                    .filter(|a| !a.evicted.load(Ordering::Relaxed))
                    .filter_map(|a| a.idle_since().map(|since| (since, Arc::clone(a))))
                    .min_by_key(|(since, _)| *since)
                    .map(|(_, activity)| activity)
            };
            let victim = victim?;
            victim.evicted.store(true, Ordering::Relaxed);
            victim.wake.notify_one();
            let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
            loop {
                // Made before the count is read: a close between the two
                // still wakes it.
                let closed = self.closed.notified();
                if self.len() < limit {
                    break;
                }
                if tokio::time::timeout_at(deadline, closed).await.is_err() {
                    return None;
                }
            }
        }
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Activity::new();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.insert(key, Arc::clone(&activity));
        Some(Registered {
            registry: Arc::clone(self),
            key,
            activity,
        })
    }

    /// From now on idle connections close, and busy ones as soon as they
    /// are idle.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for activity in open.values() {
            activity.wake.notify_one();
        }
    }

    fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once the server is stopping.
    pub async fn stopping(&self) {
        let mut stopping = self.stopping.subscribe();
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }

    /// Waits until every connection has closed.
    pub async fn drained(&self) {
        loop {
            let closed = self.closed.notified();
            if self.len() == 0 {
                return;
            }
            closed.await;
        }
    }
}

/// Resolves with the reason when the connection must close.
pub async fn watchdog(registered: &Registered, limits: &Limits) -> Close {
    let shortest = [
        limits.header_timeout,
        limits.idle_timeout,
        limits.send_timeout,
    ]
    .into_iter()
    .min()
    .unwrap_or(Duration::from_secs(1));
    let tick = (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let activity = &registered.activity;
    loop {
        if let Some(close) = activity.verdict(limits, registered.registry.is_stopping()) {
            return close;
        }
        let _ = tokio::time::timeout(tick, activity.wake.notified()).await;
    }
}

/// The answer to a connection over the limit when none could be closed
/// for it: written if the socket takes it at once, never waited for.
pub fn refuse(stream: &TcpStream) {
    let body = r#"{"error":"too many connections; try again shortly"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 2\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// Raises the soft limit of open files to the hard one; returns the limit
/// in force.
pub fn raise_file_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Descriptors kept aside from connections: the store, logs, the
/// listener, the runtime.
const RESERVED_FILES: u64 = 64;

/// The default `--max-connections`: well under the descriptor limit, each
/// upload and download holding a file or two beside its connection.
pub fn default_max_connections(file_limit: u64, max_uploads: u32, max_downloads: usize) -> usize {
    let others = RESERVED_FILES + 3 * u64::from(max_uploads) + max_downloads as u64;
    let room = file_limit.saturating_sub(others) / 2;
    usize::try_from(room.clamp(16, 10_000)).unwrap_or(10_000)
}

/// A connection's socket, which turns hyper's own error answers (a head it
/// could not parse: 400, 414, 431, sent with no body) into JSON like every
/// other error of the server. Only on a connection none of whose requests
/// reached the server: later, an answer's body could begin with the same
/// bytes, and is never touched.
pub struct Socket {
    stream: TcpStream,
    activity: Arc<Activity>,
    /// The JSON answer, what is left of it to write.
    rewritten: Option<(Vec<u8>, usize)>,
}

impl Socket {
    pub fn new(stream: TcpStream, activity: Arc<Activity>) -> Socket {
        Socket {
            stream,
            activity,
            rewritten: None,
        }
    }

    fn poll_rewritten(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.rewritten {
            if *written == bytes.len() {
                self.rewritten = None;
                break;
            }
            let n =
                std::task::ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

/// hyper's answer to a head it could not parse, as JSON; None for any
/// other bytes.
fn json_error_answer(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let (status_line, rest) = text.split_once("\r\n")?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or(status_line.strip_prefix("HTTP/1.0 "))?;
    let (code, reason) = status.split_once(' ').unwrap_or((status, ""));
    let code: u16 = code.parse().ok()?;
    let bodiless = rest.to_ascii_lowercase();
    if !(400..600).contains(&code)
        || bodiless.contains("content-type:")
        || !rest.ends_with("\r\n\r\n")
    {
        return None;
    }
    let why = match code {
        414 => "the request's target is too long".to_owned(),
        431 => "the request's head is too large".to_owned(),
        400 => "the request's head is malformed".to_owned(),
        _ => reason.to_ascii_lowercase(),
    };
    let body = serde_json::json!({ "error": why }).to_string();
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_rewritten(cx))?;
        if self.activity.requests.load(Ordering::Relaxed) == 0
            && let Some(answer) = json_error_answer(buf)
        {
            // hyper's bytes are taken now, whole: what is left of ours goes
            // out on the next write or flush (a Pending here would make
            // hyper offer the same bytes again, and the answer go twice).
            self.rewritten = Some((answer, 0));
            if let Poll::Ready(Err(e)) = self.poll_rewritten(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_rewritten(cx))?;
        if self.activity.requests.load(Ordering::Relaxed) == 0
            && let [only] = bufs
        {
            let only: &[u8] = only;
            return self.poll_write(cx, only);
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_rewritten(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_rewritten(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_own_error_answers_become_json() {
        let canned = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 12:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(json_error_answer(canned).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(
            answer.ends_with(r#"{"error":"the request's head is too large"}"#),
            "{answer}"
        );
        // Our own answers carry a type; an answer's body bytes are no head.
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n";
        assert_eq!(json_error_answer(ours), None);
        assert_eq!(json_error_answer(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(json_error_answer(b"\x89PNG\r\n"), None);
    }

    #[test]
    fn connections_leave_room_for_files() {
        assert_eq!(default_max_connections(1024, 16, 256), 328);
        assert_eq!(default_max_connections(64, 16, 256), 16);
        assert_eq!(default_max_connections(1 << 20, 16, 256), 10_000);
    }
}

/// The client's address, set on each request by the connection's service.
#[derive(Debug, Clone, Copy)]
pub struct Remote(pub std::net::SocketAddr);
