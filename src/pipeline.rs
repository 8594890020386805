//! The one pass: each input is read once, in fixed 32 KiB chunks (or, for
//! an upload, in the shared chunks the connection read, taken as they are),
//! and every chunk goes to the hasher, the sniffer and each [`Sink`] in turn.
//!
//! Memory does not depend on the input's size: the ring of buffers shared
//! with the hashing thread, the hash state and the sniffing prefix are all
//! fixed, and reused from input to input. Inputs known to be small are
//! hashed on this thread instead, and so is the start of every input of
//! shared chunks, whose size is seldom known.

use std::io::{self, Read, Write};

use crate::failure::Failure;
use crate::hashing::{HashWorker, Sha256};
use crate::object_id::ObjectId;
use crate::sniff::{Kind, Sniffer};
use anyhow::anyhow;
use bytes::Bytes;

/// The size of the buffers every byte passes through.
pub const BUFFER_LEN: usize = 32 * 1024;

/// Inputs known to be at most this large are hashed inline.
pub const INLINE_HASH_MAX: u64 = 256 * 1024;

/// What the pass knows when a sink sees a chunk.
#[derive(Debug, Clone, Copy)]
pub struct SoFar<'a> {
    /// Bytes read so far, this chunk included.
    pub bytes: u64,
    /// The sniffed type, once the prefix is complete (or the input ended):
    /// `Some(None)` means no matcher knew the bytes.
    pub kind: Option<Option<&'a Kind>>,
}

/// Sees every chunk of an input, in order, as it streams through. Adding a
/// consumer to the pass is adding a type, not a branch in the loop. An
/// error stops the pass at once: the rest of the input is never read.
pub trait Sink {
    fn take(&mut self, chunk: &[u8], so_far: &SoFar) -> Result<(), Failure>;

    /// Called once the input has ended, before the pass returns.
    fn finish(&mut self, _so_far: &SoFar) -> Result<(), Failure> {
        Ok(())
    }
}

/// What the pass learnt of an input.
#[derive(Debug, Clone)]
pub struct Passed {
    pub id: ObjectId,
    pub size: u64,
    /// The type the leading bytes show, if any matcher knew them.
    pub sniffed: Option<Kind>,
}

/// Where the pass's bytes come from.
pub enum Source<'a> {
    /// Read into the pass's own buffers: files, pipes.
    Read(&'a mut dyn Read),
    /// Hands out its chunks already in memory, each taken as it is and
    /// never copied: an upload's body, as the connection read it.
    Share(&'a mut dyn Chunks),
}

/// An input that is a stream of shared chunks: handing one to the hashing
/// thread as well as to the sinks raises a count, it copies nothing.
pub trait Chunks {
    /// The next chunk, never empty; `None` once the input has ended.
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>>;
}

/// What the pass has seen of an input so far.
#[derive(Default)]
struct Seen {
    size: u64,
    /// The sniffed type, once the prefix was complete.
    settled: Option<Option<Kind>>,
}

/// The reusable state of the pass: the hashing worker with its ring of
/// buffers (started by the first input too large to hash inline), the
/// buffer of inputs hashed inline, and the sniffer.
pub struct Pass {
    /// Hash every input on the calling thread, whatever its size.
    inline_only: bool,
    hashing: Option<HashWorker>,
    inline_buffer: Option<Box<[u8]>>,
    sniffer: Sniffer,
}

impl Default for Pass {
    fn default() -> Self {
        Self::new()
    }
}

impl Pass {
    pub fn new() -> Self {
        Pass {
            inline_only: false,
            hashing: None,
            inline_buffer: None,
            sniffer: Sniffer::new(),
        }
    }

    /// A pass that hashes every input on the calling thread: for a server
    /// under a crowd, whose parallelism is its many uploads, a hashing
    /// thread per upload would cost memory and hand-offs for nothing.
    pub fn inline() -> Self {
        Pass {
            inline_only: true,
            ..Pass::new()
        }
    }

    pub fn is_inline_only(&self) -> bool {
        self.inline_only
    }

    fn hashing(&mut self) -> Result<&mut HashWorker, Failure> {
        if self.hashing.is_none() {
            let worker = HashWorker::start(BUFFER_LEN)
                .map_err(|e| Failure::Store(e.context("starting the hashing thread")))?;
            self.hashing = Some(worker);
        }
        self.hashing
            .as_mut()
            .ok_or_else(|| Failure::Store(anyhow!("no hashing thread")))
    }

    /// An empty buffer: the inline one, or the next of the ring.
    fn buffer(&mut self, inline: bool) -> Result<Box<[u8]>, Failure> {
        if inline {
            let spare = self.inline_buffer.take();
            return Ok(spare.unwrap_or_else(|| vec![0u8; BUFFER_LEN].into_boxed_slice()));
        }
        self.hashing()?.buffer().map_err(Failure::Store)
    }

    /// Takes back a buffer the hashing thread will not see.
    fn give_back(&mut self, buf: Box<[u8]>, inline: bool) -> Result<(), Failure> {
        if inline {
            self.inline_buffer = Some(buf);
        } else {
            self.hashing()?.give_back(buf);
        }
        Ok(())
    }

    /// Reads `input` to its end once, feeding every sink. A read error is the
    /// input's failure; a sink's error is whatever the sink says it is.
    pub fn run(
        &mut self,
        input: &mut dyn Read,
        sinks: &mut [&mut dyn Sink],
    ) -> Result<Passed, Failure> {
        self.run_sized(Source::Read(input), None, sinks)
    }

    /// [`Pass::run`] for an input whose size is known in advance: a small
    /// one is hashed on this thread, where handing chunks to the worker
    /// would cost more than it saves.
    pub fn run_sized(
        &mut self,
        input: Source<'_>,
        size: Option<u64>,
        sinks: &mut [&mut dyn Sink],
    ) -> Result<Passed, Failure> {
        self.sniffer.reset();
        let inline = self.inline_only || size.is_some_and(|s| s <= INLINE_HASH_MAX);
        let mut inline = inline.then(Sha256::new);
        let mut seen = Seen::default();
        let pumped = match input {
            Source::Read(input) => self.pump(input, &mut inline, &mut seen, sinks),
            Source::Share(input) => {
                // Begun here, and handed to the worker once it is long.
                let hand_over = inline.is_none();
                inline.get_or_insert_with(Sha256::new);
                self.pump_shared(input, &mut inline, hand_over, &mut seen, sinks)
            }
        }
        .and_then(|()| self.finish(&mut seen, sinks));
        // Always collect the digest: it returns the ring's buffers and
        // readies the worker for the next input, even after a failure.
        let digest = match inline {
            Some(hasher) => hasher.finalize(),
            None => self.hashing()?.finish().map_err(Failure::Store)?,
        };
        let (size, sniffed) = pumped?;
        Ok(Passed {
            id: ObjectId::from_bytes(digest),
            size,
            sniffed,
        })
    }

    /// Reads `input` into the pass's buffers, chunk after chunk.
    fn pump(
        &mut self,
        input: &mut dyn Read,
        inline: &mut Option<Sha256>,
        seen: &mut Seen,
        sinks: &mut [&mut dyn Sink],
    ) -> Result<(), Failure> {
        let is_inline = inline.is_some();
        loop {
            let mut buf = self.buffer(is_inline)?;
            let n = match read_some(input, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    self.give_back(buf, is_inline)?;
                    return Err(read_failed(e, seen));
                }
            };
            if n == 0 {
                return self.give_back(buf, is_inline);
            }
            let taken = self.see(&buf[..n], seen, sinks);
            match inline.as_mut() {
                Some(hasher) => {
                    hasher.update(&buf[..n]);
                    self.give_back(buf, true)?;
                }
                None => self.hashing()?.hash(buf, n).map_err(Failure::Store)?,
            }
            taken?;
        }
    }

    /// Takes each chunk `input` shares, as it is. The hash begins in
    /// `inline`; with `hand_over`, once the input has passed
    /// [`INLINE_HASH_MAX`] it goes on on the worker, which hashes each
    /// chunk while the sinks take the same bytes here.
    fn pump_shared(
        &mut self,
        input: &mut dyn Chunks,
        inline: &mut Option<Sha256>,
        mut hand_over: bool,
        seen: &mut Seen,
        sinks: &mut [&mut dyn Sink],
    ) -> Result<(), Failure> {
        loop {
            let chunk = match input.next_chunk() {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_failed(e, seen)),
            };
            if hand_over && seen.size >= INLINE_HASH_MAX && inline.is_some() {
                // A worker that cannot be started leaves the hash here:
                // slower, never wrong.
                hand_over = false;
                if let Ok(worker) = self.hashing()
                    && let Some(begun) = inline.take()
                {
                    worker.adopt(begun).map_err(Failure::Store)?;
                }
            }
            match inline.as_mut() {
                Some(hasher) => hasher.update(&chunk),
                None => self
                    .hashing()?
                    .hash_shared(chunk.clone())
                    .map_err(Failure::Store)?,
            }
            self.see(&chunk, seen, sinks)?;
        }
    }

    /// One chunk, to the sniffer and every sink.
    fn see(
        &mut self,
        chunk: &[u8],
        seen: &mut Seen,
        sinks: &mut [&mut dyn Sink],
    ) -> Result<(), Failure> {
        self.sniffer.update(chunk);
        seen.size += chunk.len() as u64;
        if seen.settled.is_none() && self.sniffer.is_settled() {
            seen.settled = Some(self.sniffer.kind());
        }
        let so_far = SoFar {
            bytes: seen.size,
            kind: seen.settled.as_ref().map(Option::as_ref),
        };
        sinks
            .iter_mut()
            .try_for_each(|sink| sink.take(chunk, &so_far))
    }

    /// The input has ended: every sink hears of it, with the type sniffed.
    fn finish(
        &mut self,
        seen: &mut Seen,
        sinks: &mut [&mut dyn Sink],
    ) -> Result<(u64, Option<Kind>), Failure> {
        let sniffed = seen.settled.take().unwrap_or_else(|| self.sniffer.kind());
        let so_far = SoFar {
            bytes: seen.size,
            kind: Some(sniffed.as_ref()),
        };
        for sink in sinks.iter_mut() {
            sink.finish(&so_far)?;
        }
        Ok((seen.size, sniffed))
    }
}

fn read_failed(e: io::Error, seen: &Seen) -> Failure {
    let size = seen.size;
    Failure::Input(anyhow!(e).context(format!("read failed after {size} bytes")))
}

/// One read, retried when a signal interrupts it.
fn read_some(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The most one write into the store hands the kernel at once.
///
/// Larger writes into a file's page cache can cost many times as much per
/// byte: measured on this project's machine (a virtual machine, Linux 6.18,
/// ext4), copying 50 MB into the page cache took 2-6 ms of CPU in writes of
/// 16-64 KiB and 127-154 ms in writes of 128 or 256 KiB (`dd`, `perf`,
/// three rounds), the kernel then filling large folios whose fresh memory
/// the host has to provide page by page. The threshold is that machine's
/// free page reporting: its balloon hands every free block of 128 KiB or
/// more back to the host (`page_reporting_order` 5; 330 MB reported within
/// 6 s of freeing 200 MB), so a folio that large is almost always memory
/// the host must fault in again, where smaller ones come mostly from the
/// guest's small free blocks, which it keeps. An upload's chunks are up to
/// 256 KiB; writing them in 64 KiB pieces costs a few more system calls
/// where memory behaves, and saves most of an upload's CPU where it does
/// not.
pub const WRITE_MAX: usize = 64 * 1024;

/// Writes the stream into the store, in pieces of at most [`WRITE_MAX`]; a
/// failed write is the store's failure, not the input's.
pub struct StoreWriter<'a>(pub &'a mut dyn Write);

impl Sink for StoreWriter<'_> {
    fn take(&mut self, chunk: &[u8], _so_far: &SoFar) -> Result<(), Failure> {
        chunk
            .chunks(WRITE_MAX)
            .try_for_each(|piece| self.0.write_all(piece))
            .map_err(|e| Failure::Store(anyhow!(e).context("writing into the store")))
    }

    fn finish(&mut self, _so_far: &SoFar) -> Result<(), Failure> {
        self.0
            .flush()
            .map_err(|e| Failure::Store(anyhow!(e).context("writing into the store")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FailsAfter;
    // An independent implementation, so the tests check ours.
    use sha2::Digest;

    struct Count(u64);

    impl Sink for Count {
        fn take(&mut self, chunk: &[u8], _so_far: &SoFar) -> Result<(), Failure> {
            self.0 += chunk.len() as u64;
            Ok(())
        }
    }

    /// Shares `.0` in chunks of 1 to `.1` bytes, of uneven sizes; with
    /// `.2`, fails where it would have ended.
    struct Uneven(Bytes, usize, bool);

    impl Chunks for Uneven {
        fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
            if self.0.is_empty() {
                if self.2 {
                    return Err(io::Error::other("the upload was cut off"));
                }
                return Ok(None);
            }
            let n = (self.0.len() % self.1 + 1).min(self.0.len());
            Ok(Some(self.0.split_to(n)))
        }
    }

    /// Records the size of each write it takes.
    #[derive(Default)]
    struct Writes(Vec<usize>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.len());
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_store_is_written_at_most_write_max_at_a_time() {
        let mut writes = Writes::default();
        let chunk = vec![1u8; 4 * WRITE_MAX + 100];
        let so_far = SoFar {
            bytes: chunk.len() as u64,
            kind: None,
        };
        StoreWriter(&mut writes).take(&chunk, &so_far).unwrap();
        assert_eq!(writes.0, [WRITE_MAX, WRITE_MAX, WRITE_MAX, WRITE_MAX, 100]);
    }

    #[test]
    fn a_read_error_fails_the_input_and_says_where() {
        let mut count = Count(0);
        let err = Pass::new()
            .run(&mut FailsAfter { good: 100_000 }, &mut [&mut count])
            .unwrap_err();
        assert!(!err.is_fatal());
        let text = format!("{err:#}");
        assert!(text.contains("after 100000 bytes"), "{text}");
        assert!(text.contains("device went away"), "{text}");
        assert_eq!(count.0, 100_000);
    }

    #[test]
    fn hash_matches_a_one_shot_digest_input_after_input() {
        let mut pass = Pass::new();
        let mut inline_pass = Pass::inline();
        // A failed input in between must not leak into the next digest.
        let _ = pass.run(&mut FailsAfter { good: 70_000 }, &mut []);
        // And one cut off after its hash went to the worker.
        let mut cut = Uneven(Bytes::from(vec![7u8; 400_000]), 5000, true);
        let err = pass
            .run_sized(Source::Share(&mut cut), None, &mut [])
            .unwrap_err();
        assert!(format!("{err:#}").contains("after 400000 bytes"), "{err:#}");
        for len in [0, 1, BUFFER_LEN, 3 * BUFFER_LEN + 17, 10 * BUFFER_LEN] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let expected: [u8; 32] = sha2::Sha256::digest(&data).into();
            for size in [None, Some(len as u64)] {
                let passed = pass
                    .run_sized(Source::Read(&mut &data[..]), size, &mut [])
                    .unwrap();
                assert_eq!(
                    passed.id,
                    ObjectId::from_bytes(expected),
                    "{len} bytes, {size:?}"
                );
                // The same bytes shared in uneven chunks, by a pass that
                // hands long inputs to its worker and by one that does not.
                for shared_pass in [&mut pass, &mut inline_pass] {
                    let mut count = Count(0);
                    let mut chunks = Uneven(Bytes::from(data.clone()), 1000, false);
                    let passed = shared_pass
                        .run_sized(Source::Share(&mut chunks), size, &mut [&mut count])
                        .unwrap();
                    assert_eq!(
                        passed.id,
                        ObjectId::from_bytes(expected),
                        "{len} bytes, {size:?}"
                    );
                    assert_eq!(passed.size, len as u64);
                    assert_eq!(count.0, len as u64);
                }
            }
        }
    }

    #[test]
    fn hash_matches_a_one_shot_digest() {
        let data = vec![42u8; 3 * BUFFER_LEN + 17];
        let passed = Pass::new().run(&mut &data[..], &mut []).unwrap();
        let expected: [u8; 32] = sha2::Sha256::digest(&data).into();
        assert_eq!(passed.id, ObjectId::from_bytes(expected));
        assert_eq!(passed.size, data.len() as u64);
    }
}
