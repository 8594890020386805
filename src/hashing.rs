//! SHA-256: the one hasher every object id comes from, and a worker that
//! runs it on a second core, so hashing overlaps reading and writing.
//!
//! The pass hands each filled buffer to a worker thread and takes an empty
//! one back: a ring of [`RING`] buffers of the pass's fixed size, so memory
//! stays flat while the two cores work on different chunks. Chunks that are
//! shared already (an upload's, as the connection read them) go to the
//! worker as they are, a count raised and no copy, while the pass writes
//! the same bytes. The worker lives as long as the pass, so a small file
//! pays two channel hops per chunk and no thread start.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use anyhow::{Result, anyhow};
use bytes::Bytes;
use ring::digest;

/// Incremental SHA-256.
///
/// It is ring's (which the S3 client's TLS uses too, so one crypto library
/// is built): its assembly picks SHA extensions where the CPU has them and
/// AVX/SSSE3 code where it does not. `sha2` has only the first and falls
/// back to portable code, which on a CPU without SHA extensions hashes at
/// about half the speed (149 against 273 MB/s measured on a 2 GHz Xeon),
/// and hashing is then most of what storing a file costs.
#[derive(Clone)]
pub struct Sha256(digest::Context);

impl std::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha256(..)")
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    pub fn new() -> Self {
        Sha256(digest::Context::new(&digest::SHA256))
    }

    pub fn update(&mut self, data: impl AsRef<[u8]>) {
        self.0.update(data.as_ref());
    }

    pub fn finalize(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }

    /// The digest of `data`, in one call.
    pub fn digest(data: impl AsRef<[u8]>) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(data);
        hasher.finalize()
    }
}

/// Buffers in flight: enough to keep both cores busy, few enough to be
/// nothing beside the process's own footprint.
pub const RING: usize = 4;

enum Job {
    Chunk(Box<[u8]>, usize),
    /// A chunk the worker only reads and drops: nothing comes back.
    Shared(Bytes),
    /// Go on from a hash begun elsewhere.
    Adopt(Sha256),
    /// End of the stream: send the digest and start afresh.
    Finish,
}

enum Done {
    Buffer(Box<[u8]>),
    Digest([u8; 32]),
}

pub struct HashWorker {
    jobs: SyncSender<Job>,
    done: Receiver<Done>,
    free: Vec<Box<[u8]>>,
    /// Buffers of the ring made so far: none until the first is asked for,
    /// so a worker that only sees shared chunks holds none.
    made: usize,
    buffer_len: usize,
}

impl HashWorker {
    pub fn start(buffer_len: usize) -> Result<Self> {
        let (jobs, job_rx) = sync_channel::<Job>(RING);
        let (done_tx, done) = sync_channel::<Done>(RING + 1);
        thread::Builder::new()
            .name("sha256".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                for job in job_rx {
                    let reply = match job {
                        Job::Chunk(buf, n) => {
                            hasher.update(&buf[..n]);
                            Done::Buffer(buf)
                        }
                        Job::Shared(chunk) => {
                            hasher.update(&chunk);
                            continue;
                        }
                        Job::Adopt(begun) => {
                            hasher = begun;
                            continue;
                        }
                        Job::Finish => Done::Digest(std::mem::take(&mut hasher).finalize()),
                    };
                    if done_tx.send(reply).is_err() {
                        return;
                    }
                }
            })?;
        Ok(HashWorker {
            jobs,
            done,
            free: Vec::new(),
            made: 0,
            buffer_len,
        })
    }

    /// An empty buffer to read into: a spare one, a new one while the ring
    /// is not full, or the next the worker has finished with.
    pub fn buffer(&mut self) -> Result<Box<[u8]>> {
        if let Some(buf) = self.free.pop() {
            return Ok(buf);
        }
        if self.made < RING {
            self.made += 1;
            return Ok(vec![0u8; self.buffer_len].into_boxed_slice());
        }
        match self.done.recv() {
            Ok(Done::Buffer(buf)) => Ok(buf),
            Ok(Done::Digest(_)) | Err(_) => Err(anyhow!("the hashing thread stopped")),
        }
    }

    /// Hashes the first `n` bytes of `buf`, on the worker.
    pub fn hash(&mut self, buf: Box<[u8]>, n: usize) -> Result<()> {
        self.send(Job::Chunk(buf, n))
    }

    /// Hashes a shared chunk on the worker, which drops it when done.
    pub fn hash_shared(&mut self, chunk: Bytes) -> Result<()> {
        self.send(Job::Shared(chunk))
    }

    /// Goes on from `begun`: what the worker hashes next follows it.
    pub fn adopt(&mut self, begun: Sha256) -> Result<()> {
        self.send(Job::Adopt(begun))
    }

    fn send(&mut self, job: Job) -> Result<()> {
        self.jobs
            .send(job)
            .map_err(|_| anyhow!("the hashing thread stopped"))
    }

    /// Returns a buffer that was not filled.
    pub fn give_back(&mut self, buf: Box<[u8]>) {
        self.free.push(buf);
    }

    /// The digest of everything hashed since the last finish; every buffer
    /// is back in the ring afterwards.
    pub fn finish(&mut self) -> Result<[u8; 32]> {
        self.send(Job::Finish)?;
        loop {
            match self.done.recv() {
                Ok(Done::Buffer(buf)) => self.free.push(buf),
                Ok(Done::Digest(digest)) => return Ok(digest),
                Err(_) => return Err(anyhow!("the hashing thread stopped")),
            }
        }
    }
}
