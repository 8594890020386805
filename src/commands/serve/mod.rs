//! `ingest serve`: the HTTP front end of the engine. Requests become the
//! engine's calls (each upload's body streams through the same pass as a
//! file's) and its events become JSON answers; nothing under the engine
//! knows HTTP.

// Handlers answer early with a Response as their error, axum's way; its
// size matters nothing next to a request's.
#![allow(clippy::result_large_err)]

mod answers;
mod auth;
mod body;
mod connections;
mod cors;
mod engine;
mod entries;
mod multipart;
mod objects;
mod page;
mod router;
mod trash;
mod tus;
mod uploads;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::commands::flags;
use crate::engine::{Ingest, Settings};
use crate::exit::Exit;
use crate::policy::Policy;
use crate::policy::PolicyGiven;
use crate::store::{Access, Opened, Opener};
use crate::store::{Backend, StoreView};
use crate::tokens::Tokens;
use engine::{Engine, Outcomes, Receive};

/// Everything a request may need, shared by all.
pub struct Shared {
    receive: Box<dyn Receive>,
    /// A second handle on the store, for reading entries and objects while
    /// the engine writes.
    view: Box<dyn StoreView + Send + Sync>,
    policy: Policy,
    /// Each object's recorded type, to serve it with.
    tokens: auth::TokenFile,
    uploads: Arc<Semaphore>,
    /// Uploads under way by token name.
    uploads_by_token: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    max_uploads: u32,
    max_uploads_per_token: u32,
    /// Object reads on the blocking pool at once, for all downloads: a
    /// crowd of downloads waits here, not in the pool uploads need.
    reads: Arc<Semaphore>,
    /// Downloads with an object open (from their first chunk to their
    /// end), each holding a reader and a chunk or two.
    downloads: Arc<Semaphore>,
    /// Pages of entries being read at once.
    listings: Arc<Semaphore>,
    body_timeout: Duration,
    /// Partial uploads (tus) in use or idle with their running hash.
    tus_slots: tus::Slots,
    tus_limits: tus::Limits,
    /// Origins whose browser clients may call the API (--cors-origin).
    origins: Arc<cors::Origins>,
}

/// Object reads at once (each a 64 KiB chunk on the blocking pool).
pub const MAX_READS: usize = 32;

/// Downloads with an object open at once; more wait for their first
/// chunk.
pub const MAX_DOWNLOADS: usize = 256;

/// Pages of entries read at once; more wait their turn.
pub const MAX_LISTINGS: usize = 4;

/// Requests (streams) one HTTP/2 connection may have in flight.
pub const MAX_STREAMS: u32 = 32;

/// Parts one multipart request may hold, at most.
pub const MAX_PARTS: usize = 1000;

/// Bytes a name (from a path or a part's headers) may have, at most.
pub const MAX_NAME_BYTES: usize = 1024;

/// Bytes a request's head (its request line and headers) may have: past
/// them the answer is 431. Hyper also stops a head at the connection's
/// buffer, so on connections with lean buffers the limit is theirs.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Each connection's read buffer (and so the largest chunk of a body it
/// reads), by how many connections were open before it: `(open before,
/// bytes)`, the first row that fits. A wide buffer makes a large upload
/// cheap (one read, one wake of the upload's thread and one write per 256
/// KiB instead of per 32 KiB: a 50 MB upload took about 15% less time and
/// its connection's thread half the CPU), but under a crowd each buffer
/// costs several times its size (the chunks on their way to the pass hold
/// on to the buffers they came in), so only the first two connections get
/// one, the next eight a broad one, the next six a roomy one and the rest a
/// lean one. Measured with 100 concurrent 1 MB uploads (release build):
/// peak RSS 39 MiB with 64 KiB for all, 29-33 MiB with 32 KiB, 21-25 MiB
/// with 16 KiB, 24-27 MiB with these rows (and with 32 KiB for the third to
/// the tenth); one 50 MB upload took 1.2-1.7x as long with 16 KiB as with
/// 32 KiB, and ten concurrent 10 MB uploads 0.106 s with 64 KiB for the
/// third to the tenth against 0.127 s with 32 KiB (medians of 12,
/// alternating; the machine's CPU per round 180-200 ms against 240).
const READ_BUFFERS: [(usize, usize); 4] = [
    (2, 256 * 1024),
    (10, 64 * 1024),
    (16, 32 * 1024),
    (usize::MAX, 16 * 1024),
];

/// The row of [`READ_BUFFERS`] for a connection with `open_before` others
/// open.
fn read_buffer_row(open_before: usize) -> usize {
    READ_BUFFERS
        .iter()
        .position(|&(limit, _)| open_before < limit)
        .unwrap_or(READ_BUFFERS.len() - 1)
}

/// Keeps the memory of freed read buffers in the heap for the next ones.
///
/// A chunk of an upload outlives the connection's read (the pass and the
/// hashing thread hold it), so each read allocates a fresh buffer of up to
/// 256 KiB. glibc's malloc serves a new one from fresh pages (mapped, or
/// given back by trimming the heap when the last one was freed) and each
/// page faults and is zeroed again. With the thresholds above a buffer's
/// size the heap keeps them: per 50 MB upload 960-1,830 faults against
/// 2,700-5,900, and the server's CPU 89-103 ms against 92-169 (uploads 2-6
/// of a server, four alternating rounds). Peak RSS under a crowd of 100
/// uploads stayed the same (23-26 MiB).
///
/// Arenas are one per core rather than glibc's eight per core: each thread
/// that allocates (an upload's thread, a hashing thread) would otherwise get
/// an arena of its own, and each keeps freed memory up to the trim threshold.
/// After 50 MB, ten 10 MB and 100 concurrent 1 MB uploads on a fresh
/// server, peak RSS 25.4-27.5 MiB against 27.4-28.4 (six rounds, order
/// rotated, 2 cores), times unchanged.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_buffers() {
    let arenas = std::thread::available_parallelism().map_or(1, |n| n.get());
    let arenas = i32::try_from(arenas).unwrap_or(i32::MAX);
    // SAFETY: mallopt takes two integers and only sets malloc's own
    // parameters; this runs first in `serve`, before the store (an S3
    // store's runtime) or the server start any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_buffers() {}

pub fn run(global: &GlobalArgs, opener: &Opener, args: &ServeArgs) -> Result<Exit> {
    keep_freed_buffers();
    let Some(given) = flags::usage_checked(flags::policy(&args.policy)) else {
        return Ok(Exit::Usage);
    };
    let max_partial = match crate::policy::parse_size(&args.max_partial) {
        Ok(size) => size,
        Err(e) => {
            say!("--max-partial: {e:#}");
            return Ok(Exit::Usage);
        }
    };
    init_logs(global, args.verbose);
    let opened = opener.open(Access::Write)?;
    let tokens_path = opened.tokens_path();
    if Tokens::load(&tokens_path)?.is_empty() {
        bail!(
            "no tokens yet, so no client could use the server: run `ingest token add NAME` first (tokens for this store are kept in {})",
            tokens_path.display()
        );
    }
    let view = opener.open(Access::Read)?.into_view();
    // Its pages are read from the catalog: caught up now, not by the
    // first client.
    view.catch_up()?;
    let engine = match opened {
        Opened::Local(store) => engine_for(store, args, &given)?,
        Opened::S3(store) => engine_for(store, args, &given)?,
    };
    let Some((receive, policy)) = engine else {
        return Ok(Exit::Usage);
    };
    let shared = Arc::new(Shared {
        receive,
        view,
        policy,
        tokens: auth::TokenFile::new(tokens_path),
        uploads: Arc::new(Semaphore::new(args.max_uploads as usize)),
        uploads_by_token: std::sync::Mutex::default(),
        max_uploads: args.max_uploads,
        max_uploads_per_token: args
            .max_uploads_per_token
            .unwrap_or_else(|| uploads::per_token_uploads(args.max_uploads)),
        reads: Arc::new(Semaphore::new(MAX_READS)),
        downloads: Arc::new(Semaphore::new(MAX_DOWNLOADS)),
        listings: Arc::new(Semaphore::new(MAX_LISTINGS)),
        body_timeout: Duration::from_secs_f64(args.body_timeout),
        tus_slots: std::sync::Mutex::default(),
        origins: Arc::new(cors::Origins(args.cors_origin.clone())),
        tus_limits: tus::Limits {
            max_partial,
            expiry: args.partial_expiry,
        },
    });
    let file_limit = connections::raise_file_limit();
    let max_connections = args.max_connections.map_or_else(
        || connections::default_max_connections(file_limit, args.max_uploads, MAX_DOWNLOADS),
        |n| usize::try_from(n).unwrap_or(usize::MAX),
    );
    say!("at most {max_connections} connections at once (open files limit: {file_limit})");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ingest-serve")
        // Threads of the blocking pool that a burst needed go soon after.
        .thread_keep_alive(Duration::from_secs(2))
        // Every use of the pool has a budget of its own (uploads, reads,
        // listings); this bounds the sum, with room for the rest.
        .max_blocking_threads(args.max_uploads as usize + MAX_READS + MAX_LISTINGS + 16)
        .build()
        .context("starting the server's runtime")?;
    let listen = Listen {
        addr: args.listen,
        limits: connections::Limits {
            max_connections,
            header_timeout: Duration::from_secs_f64(args.header_timeout),
            idle_timeout: Duration::from_secs_f64(args.idle_timeout),
            send_timeout: Duration::from_secs_f64(args.send_timeout),
        },
        grace: Duration::from_secs_f64(args.grace),
    };
    let served = runtime.block_on(serve(Arc::clone(&shared), listen));
    // Uploads cut off at the grace period's end see their channel close
    // and fail on their threads, leaving nothing behind; wait for them.
    runtime.shutdown_timeout(Duration::from_secs(10));
    // The store goes last, outside the runtime: an S3 store's own runtime
    // must not be dropped on one of this runtime's threads.
    drop(shared);
    served.map(|()| Exit::Success)
}

/// The engine over `store`, with the policy its config and the flags
/// make; None (after saying why) when they do not parse.
fn engine_for<B>(
    store: B,
    args: &ServeArgs,
    given: &PolicyGiven,
) -> Result<Option<(Box<dyn Receive>, Policy)>>
where
    B: Backend + Send + 'static,
    B::Stager: Send,
{
    let Some(policy) = flags::usage_checked(Policy::resolve(store.config()?, given)) else {
        return Ok(None);
    };
    let settings = Settings {
        policy: policy.clone(),
        no_input_progress: true,
        ..Settings::default()
    };
    let ingest = Ingest::new(store, Outcomes::default(), settings, None);
    let engine = Engine::new(ingest, args.max_uploads as usize);
    Ok(Some((Box::new(engine), policy)))
}

struct Listen {
    addr: SocketAddr,
    limits: connections::Limits,
    grace: Duration,
}

/// Accepts connections until SIGTERM or SIGINT, then closes the idle ones
/// and lets the requests in flight finish within the grace period.
async fn serve(shared: Arc<Shared>, listen: Listen) -> Result<()> {
    let listener = TcpListener::bind(listen.addr)
        .await
        .with_context(|| format!("listening on {}", listen.addr))?;
    let local = listener.local_addr()?;
    // The one line a script waits for (with the port, when it asked for 0).
    say!("serving {} on http://{local}", shared.view.describe());
    let router = router::router(Arc::clone(&shared));
    let limits = listen.limits;
    let builder = |buffer| {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(buffer);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_STREAMS)
            .max_header_list_size(u32::try_from(MAX_HEAD_BYTES).unwrap_or(u32::MAX))
            .keep_alive_interval(Some(limits.idle_timeout.max(Duration::from_secs(1))))
            .keep_alive_timeout(limits.send_timeout);
        builder
    };
    let builders = Arc::new(READ_BUFFERS.map(|(_, buffer)| builder(buffer)));
    let registry = Arc::new(connections::Registry::default());
    let mut stop = std::pin::pin!(stop_signal());
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait, do not spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let before = registry.len();
        let Some(registered) = registry.admit(limits.max_connections).await else {
            tracing::warn!(%remote, "refused a connection: {} open and none idle", limits.max_connections);
            connections::refuse(&stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::clone(&registered.activity);
        let service = router::service(router.clone(), remote, Arc::clone(&activity));
        let builders = Arc::clone(&builders);
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            let socket = TokioIo::new(connections::Socket::new(stream, activity));
            let builder = &builders[read_buffer_row(before)];
            let connection = builder.serve_connection(socket, service);
            let mut connection = std::pin::pin!(connection);
            let mut shutting = false;
            loop {
                tokio::select! {
                    done = connection.as_mut() => {
                        if let Err(e) = done {
                            tracing::debug!(%remote, "connection: {e}");
                        }
                        break;
                    }
                    close = connections::watchdog(&registered, &limits) => {
                        tracing::debug!(%remote, "closing the connection: {close:?}");
                        break;
                    }
                    () = registry.stopping(), if !shutting => {
                        // HTTP/1.1: no more requests after this one;
                        // HTTP/2: GOAWAY. Idle, it closes at once.
                        connection.as_mut().graceful_shutdown();
                        shutting = true;
                    }
                }
            }
            drop(registered);
        });
    }
    drop(listener);
    say!(
        "stopping: no new connections; requests in flight have {} s",
        listen.grace.as_secs_f64()
    );
    registry.stop();
    if tokio::time::timeout(listen.grace, registry.drained())
        .await
        .is_err()
    {
        tracing::warn!("grace period over: cutting off the requests still in flight");
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handling the server runs until killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Logs to stderr: errors and warnings by default, one line per request
/// with -v, more with -vv; JSON lines with --json.
fn init_logs(global: &GlobalArgs, verbose: u8) {
    let level = match (global.quiet, verbose) {
        (true, _) => tracing::Level::ERROR,
        (false, 0) => tracing::Level::WARN,
        (false, 1) => tracing::Level::INFO,
        (false, _) => tracing::Level::DEBUG,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match global.json {
        true => builder.json().try_init(),
        false => builder
            .with_ansi(console::Term::stderr().is_term())
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_connections_read_wide_and_a_crowd_lean() {
        let rows: Vec<usize> = [0, 1, 2, 9, 10, 15, 16, 10_000]
            .into_iter()
            .map(|open_before| READ_BUFFERS[read_buffer_row(open_before)].1)
            .collect();
        assert_eq!(
            rows,
            [
                256 * 1024,
                256 * 1024,
                64 * 1024,
                64 * 1024,
                32 * 1024,
                32 * 1024,
                16 * 1024,
                16 * 1024
            ]
        );
    }
}
