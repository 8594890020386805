//! Where an input waits, hashed, for its upload to an S3 store: in memory
//! while small, in a local spool file when it cannot be read again
//! (standard input, an HTTP upload), and nowhere when it is a large regular
//! file, which its upload reads again; and the MD5 of each of its upload
//! parts, computed as its bytes are written, in the same pass as its
//! SHA-256 (the server checks each part's against what it receives).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Result;
use bytes::Bytes;
use md5::{Digest as _, Md5};
use tempfile::NamedTempFile;

use crate::interrupt::Tracked;
use crate::store::Stager;

/// Uploads go in parts of this size (S3's smallest) at first, at first: memory stays at about their product. See [[`part_len`]].
pub(super) const PART_SIZE: u64 = 5 << 20;

/// The length of part `index` (from 0). Parts follow a fixed schedule, so
/// that the pass can compute each part's MD5 while the bytes go by, before
/// the object's size is known: 5 MiB (S3's smallest) for the first 1,000
/// parts (5,000 MiB), then twice as long every 1,000 parts, so S3's 10,000
/// parts hold about 4.9 TiB, its largest object.
pub(super) fn part_len(index: usize) -> u64 {
    PART_SIZE << (index / 1000).min(9)
}

/// Inputs up to this size stay in memory on their way to the bucket.
/// Creating and deleting a file per input cost ext4 more system time than
/// the upload itself (a 2,000-file tree: 2.6-4.9 s against 0.6 s), and a
/// run holds at most one batch plus the side threads' backlog (about 400
/// inputs) staged at once, so this bounds the memory to about 25 MiB.
const HELD_MAX: usize = 64 << 10;

/// An input on its way to the bucket: in memory while small, else in a
/// spool file that is removed when dropped.
pub struct Spool {
    held: Held,
    pub(super) written: u64,
    stager: SpoolStager,
    /// The MD5 of each finished part (see [`part_len`]), and of the part
    /// being written: computed as the bytes go by, in the same pass as
    /// their SHA-256, so the server's check covers the spool copy too.
    digests: Vec<[u8; 16]>,
    part: Md5,
    in_part: u64,
}

enum Held {
    Memory(Vec<u8>),
    File {
        temp: NamedTempFile,
        _tracked: Tracked,
    },
    /// A regular file read again for its upload: nothing is copied while
    /// it is hashed. Each part read again must have the CRC-32 its pass
    /// computed (`crcs`, then `crc` for the part being read), or the file
    /// changed in between: said here, before a byte of it is sent. What is
    /// sent carries the MD5 of the pass, which the server checks, so the
    /// bytes stored are the bytes hashed and admitted whatever happened.
    /// CRC-32 rather than a second MD5: it costs a tenth of a second per
    /// GiB, where MD5 costs the client 1.5 s on top of the pass's own.
    Source {
        file: File,
        crcs: Vec<u32>,
        crc: crc32fast::Hasher,
        /// Where the next part to read again begins, and its number.
        at: u64,
        next: usize,
    },
}

/// Regular files from this size up are read again for their upload rather
/// than spooled: one part (S3's smallest), where a spool starts to cost a
/// write of the whole input to the local disk before anything is sent.
/// Smaller ones are cheap to spool, and a batch then holds no more files
/// open than its bytes allow (256 MiB / 5 MiB).
pub(super) const REREAD_FROM: u64 = PART_SIZE;

/// Why the next part could not be read for its upload.
#[derive(Debug)]
pub(super) enum PartFailure {
    Io(io::Error),
    /// The input read again is not what the pass read: it changed since.
    Changed,
}

impl Spool {
    /// Goes back to the start of the bytes, to read them for the upload.
    pub(super) fn rewind(&mut self) -> io::Result<()> {
        match &mut self.held {
            Held::Memory(_) => Ok(()),
            Held::File { temp, .. } => io::Seek::rewind(temp.as_file_mut()),
            Held::Source { at, next, .. } => {
                (*at, *next) = (0, 0);
                Ok(())
            }
        }
    }

    /// The next `len` bytes (fewer at the end), for one request's body.
    pub(super) fn read_part(&mut self, len: u64) -> Result<Bytes, PartFailure> {
        match &mut self.held {
            Held::Memory(bytes) => Ok(Bytes::from(std::mem::take(bytes))),
            Held::File { temp, .. } => {
                let mut part = Vec::with_capacity(len.min(self.written) as usize);
                let file = temp.as_file_mut();
                file.take(len)
                    .read_to_end(&mut part)
                    .map_err(PartFailure::Io)?;
                Ok(Bytes::from(part))
            }
            Held::Source {
                file,
                crcs,
                at,
                next,
                ..
            } => {
                let len = len.min(self.written - *at) as usize;
                let mut part = vec![0; len];
                file.read_exact_at(&mut part, *at)
                    .map_err(|e| match e.kind() {
                        io::ErrorKind::UnexpectedEof => PartFailure::Changed,
                        _ => PartFailure::Io(e),
                    })?;
                if crcs.get(*next) != Some(&crc32fast::hash(&part)) {
                    return Err(PartFailure::Changed);
                }
                (*at, *next) = (*at + len as u64, *next + 1);
                Ok(Bytes::from(part))
            }
        }
    }

    /// Feeds bytes just written into the MD5 of their part, closing each
    /// part at its end.
    fn digest(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = part_len(self.digests.len()) - self.in_part;
            let take = room.min(bytes.len() as u64) as usize;
            self.part.update(&bytes[..take]);
            if let Held::Source { crc, .. } = &mut self.held {
                crc.update(&bytes[..take]);
            }
            self.in_part += take as u64;
            bytes = &bytes[take..];
            if self.in_part == part_len(self.digests.len()) {
                self.close_part();
            }
        }
    }

    /// Ends the part being written: its MD5 (and CRC-32) kept.
    fn close_part(&mut self) {
        self.digests.push(self.part.finalize_reset().into());
        if let Held::Source { crc, crcs, .. } = &mut self.held {
            crcs.push(std::mem::take(crc).finalize());
        }
        self.in_part = 0;
    }

    /// Each part's MD5, the last (or only) one closed here: once the input
    /// has ended.
    pub(super) fn part_digests(&mut self) -> Vec<[u8; 16]> {
        if self.in_part > 0 || self.digests.is_empty() {
            self.close_part();
        }
        std::mem::take(&mut self.digests)
    }

    /// Moves what is held in memory into a new spool file.
    fn spill(&mut self) -> io::Result<()> {
        let Held::Memory(bytes) = &self.held else {
            return Ok(());
        };
        let (mut temp, tracked) = self.stager.spool_file()?;
        temp.write_all(bytes)?;
        self.held = Held::File {
            temp,
            _tracked: tracked,
        };
        Ok(())
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Held::Memory(bytes) = &self.held
            && bytes.len() + buf.len() > HELD_MAX
        {
            self.spill()?;
        }
        let n = match &mut self.held {
            Held::Memory(bytes) => {
                // Grows as a Vec would, but never past the limit, which is
                // what bounds the memory of a batch.
                let wanted = (bytes.len() + buf.len())
                    .max(bytes.capacity() * 2)
                    .min(HELD_MAX);
                bytes.reserve_exact(wanted - bytes.len());
                bytes.extend_from_slice(buf);
                buf.len()
            }
            Held::File { temp, .. } => temp.write(buf)?,
            Held::Source { .. } => buf.len(),
        };
        self.digest(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.held {
            Held::File { temp, .. } => temp.flush(),
            Held::Memory(_) | Held::Source { .. } => Ok(()),
        }
    }
}

/// Stages objects as spools, uploaded once their hash is known.
#[derive(Debug, Clone)]
pub struct SpoolStager {
    /// Shared, as every input's spool keeps its stager for a spill.
    spool: Arc<Path>,
    /// Set once the spool folder is known to exist.
    ready: Arc<OnceLock<()>>,
}

impl SpoolStager {
    /// Stages into `spool`, created when first needed (`ready` is set
    /// then, and shared by every stager of the store).
    pub(super) fn new(spool: Arc<Path>, ready: Arc<OnceLock<()>>) -> Self {
        SpoolStager { spool, ready }
    }

    /// A new spool file, tracked so that an interrupt removes it.
    fn spool_file(&self) -> io::Result<(NamedTempFile, Tracked)> {
        let in_spool = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("creating a spool file in {}: {e}", self.spool.display()),
            )
        };
        if self.ready.get().is_none() {
            fs::create_dir_all(&self.spool).map_err(in_spool)?;
            let _ = self.ready.set(());
        }
        // Held until the spool file is gone: gc leaves it alone meanwhile.
        let (temp, tracked) = crate::store::held::create(&self.spool, |dir| {
            tempfile::Builder::new()
                .prefix("ingest-")
                .suffix(".spool")
                .tempfile_in(dir)
        })
        .map_err(in_spool)?;
        Ok((temp, tracked))
    }
}

impl SpoolStager {
    fn holding(&self, held: Held) -> Spool {
        Spool {
            held,
            written: 0,
            stager: self.clone(),
            digests: Vec::new(),
            part: Md5::new(),
            in_part: 0,
        }
    }
}

impl Stager for SpoolStager {
    type Staged = Spool;

    fn stage(&self) -> Result<Spool> {
        Ok(self.holding(Held::Memory(Vec::new())))
    }

    /// A large regular file is read again for its upload instead of
    /// spooled: its upload starts as soon as it is hashed, without first
    /// writing it all to the local disk (and needing the room for it).
    fn stage_file(&self, file: &File, size: u64) -> Result<Spool> {
        if size < REREAD_FROM {
            return self.stage();
        }
        let file = file.try_clone()?;
        Ok(self.holding(Held::Source {
            file,
            crcs: Vec::new(),
            crc: crc32fast::Hasher::new(),
            at: 0,
            next: 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spool_holds_at_most_the_limit_in_memory_then_spills() {
        let dir = tempfile::tempdir().unwrap();
        let stager = SpoolStager {
            spool: dir.path().join("spool").into(),
            ready: Arc::default(),
        };
        let mut spool = stager.stage().unwrap();
        spool.write_all(&[1; 40_000]).unwrap();
        spool.write_all(&[2; 25_536]).unwrap();
        let Held::Memory(bytes) = &spool.held else {
            panic!("64 KiB spilled");
        };
        assert!(bytes.capacity() <= HELD_MAX, "{}", bytes.capacity());
        assert!(!dir.path().join("spool").exists());
        spool.write_all(&[3]).unwrap();
        assert!(matches!(spool.held, Held::File { .. }));
        assert_eq!(spool.written, 65_537);
        spool.rewind().unwrap();
        let back = spool.read_part(part_len(0)).unwrap();
        assert_eq!(back.len(), 65_537);
        assert!(back[..40_000].iter().all(|&b| b == 1) && back[65_536] == 3);
    }

    #[test]
    fn parts_grow_only_for_huge_objects_and_reach_s3s_largest() {
        assert_eq!(part_len(0), PART_SIZE);
        assert_eq!(part_len(999), PART_SIZE);
        assert_eq!(part_len(1000), 2 * PART_SIZE);
        assert!(part_len(9999) <= 5 << 30, "S3's largest part");
        let total: u64 = (0..10_000).map(part_len).sum();
        assert!(total >= (48 << 40) / 10, "4.8 TiB: {total}");
    }

    #[test]
    fn each_part_gets_the_md5_of_its_own_bytes() {
        use md5::Digest as _;
        let dir = tempfile::tempdir().unwrap();
        let stager = SpoolStager {
            spool: dir.path().join("spool").into(),
            ready: Arc::default(),
        };
        let bytes: Vec<u8> = (0..(2 * PART_SIZE + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut spool = stager.stage().unwrap();
        // Written in pieces that straddle the part boundaries.
        for piece in bytes.chunks(777_777) {
            spool.write_all(piece).unwrap();
        }
        let digests = spool.part_digests();
        let expected: Vec<[u8; 16]> = bytes
            .chunks(PART_SIZE as usize)
            .map(|part| Md5::digest(part).into())
            .collect();
        assert_eq!(digests, expected);
        spool.rewind().unwrap();
        for part in bytes.chunks(PART_SIZE as usize) {
            assert_eq!(spool.read_part(PART_SIZE).unwrap(), part);
        }
        let mut empty = stager.stage().unwrap();
        assert_eq!(
            empty.part_digests(),
            vec![<[u8; 16]>::from(Md5::digest(b""))]
        );
    }

    #[test]
    fn a_large_file_is_read_again_and_each_part_must_match_its_pass() {
        let dir = tempfile::tempdir().unwrap();
        let stager = SpoolStager {
            spool: dir.path().join("spool").into(),
            ready: Arc::default(),
        };
        let bytes: Vec<u8> = (0..(PART_SIZE + 1000)).map(|i| (i % 253) as u8).collect();
        let path = dir.path().join("input");
        fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let mut spool = stager.stage_file(&file, bytes.len() as u64).unwrap();
        spool.write_all(&bytes).unwrap();
        assert!(matches!(spool.held, Held::Source { .. }));
        assert!(!dir.path().join("spool").exists(), "nothing spooled");
        spool.part_digests();
        spool.rewind().unwrap();
        assert_eq!(
            spool.read_part(PART_SIZE).unwrap(),
            bytes[..PART_SIZE as usize]
        );
        // Changed in place after its pass: the next part no longer matches.
        let writer = fs::OpenOptions::new().write(true).open(&path).unwrap();
        writer.write_all_at(b"x", PART_SIZE + 10).unwrap();
        assert!(matches!(
            spool.read_part(PART_SIZE),
            Err(PartFailure::Changed)
        ));
        // Cut short: the same.
        writer.set_len(PART_SIZE + 10).unwrap();
        spool.rewind().unwrap();
        spool.read_part(PART_SIZE).unwrap();
        assert!(matches!(
            spool.read_part(PART_SIZE),
            Err(PartFailure::Changed)
        ));
        // A small file is spooled as before.
        let small = stager.stage_file(&file, 1000).unwrap();
        assert!(matches!(small.held, Held::Memory(_)));
    }
}
