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

use crate::hashing::Sha256;
use crate::interrupt::Tracked;
use crate::object_id::ObjectId;
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
/// spool file that is removed when dropped, or (a large regular file) in
/// the file itself.
pub struct Spool {
    held: Held,
    pub(super) written: u64,
    stager: SpoolStager,
    /// The MD5 of each finished part (see [`part_len`]), and of the part
    /// being written: computed as the bytes go by, in the same pass as
    /// their SHA-256, so the server's check covers the spool copy too.
    /// (Not for a file read again: see [`Held::Source`].)
    digests: Vec<[u8; 16]>,
    part: Md5,
    /// Parts closed, and the bytes of the part being written.
    closed: usize,
    in_part: u64,
}

enum Held {
    Memory(Vec<u8>),
    File {
        temp: NamedTempFile,
        _tracked: Tracked,
    },
    /// A regular file read again for its upload: nothing is copied while
    /// it is hashed, and its upload starts as soon as the pass ends.
    Source(Box<Reread>),
}

/// A file read again for its upload. The pass keeps a CRC-32 of each part
/// (SIMD, about 0.1 s per GiB) and no MD5, so the upload starts sooner.
/// Each part read again must have its CRC-32, or the file changed in
/// between: said at once, before the part is sent. It then gets its MD5
/// (which the server checks), and the SHA-256 of all the parts read again
/// must be the object's name before the upload is completed, so what is
/// stored under a name is what hashes to it, whoever wrote to the file
/// meanwhile.
struct Reread {
    file: File,
    crcs: Vec<u32>,
    crc: crc32fast::Hasher,
    /// Where the next part to read again begins, and the SHA-256 of the
    /// parts read again before it.
    at: u64,
    sha256: Sha256,
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
    /// Ends the input (closing its last part) and goes back to its start,
    /// to read it for the upload; how many parts it is sent in.
    pub(super) fn rewind(&mut self) -> io::Result<usize> {
        if self.in_part > 0 || self.closed == 0 {
            self.close_part();
        }
        match &mut self.held {
            Held::Memory(_) => {}
            Held::File { temp, .. } => io::Seek::rewind(temp.as_file_mut())?,
            Held::Source(reread) => {
                reread.at = 0;
                reread.sha256 = Sha256::new();
            }
        }
        Ok(self.closed)
    }

    /// Part `index` (from 0, in order), for one request's body, and the MD5
    /// it is sent with.
    pub(super) fn read_part(&mut self, index: usize) -> Result<(Bytes, [u8; 16]), PartFailure> {
        let len = part_len(index);
        match &mut self.held {
            Held::Memory(bytes) => Ok((Bytes::from(std::mem::take(bytes)), self.digests[index])),
            Held::File { temp, .. } => {
                let mut part = Vec::with_capacity(len.min(self.written) as usize);
                let file = temp.as_file_mut();
                file.take(len)
                    .read_to_end(&mut part)
                    .map_err(PartFailure::Io)?;
                Ok((Bytes::from(part), self.digests[index]))
            }
            Held::Source(reread) => {
                let part = reread.read(index, len.min(self.written - reread.at))?;
                let md5 = Md5::digest(&part).into();
                Ok((part, md5))
            }
        }
    }

    /// After the last part is read: whether what was read again is object
    /// `id` (always so for bytes copied as they were read).
    pub(super) fn check_read_again(&mut self, id: &ObjectId) -> Result<(), PartFailure> {
        match &mut self.held {
            Held::Source(reread) => {
                let sha256 = std::mem::take(&mut reread.sha256).finalize();
                match ObjectId::from_bytes(sha256) == *id && reread.at == self.written {
                    true => Ok(()),
                    false => Err(PartFailure::Changed),
                }
            }
            _ => Ok(()),
        }
    }

    /// Feeds bytes just written into the MD5 (or CRC-32) of their part,
    /// closing each part at its end.
    fn digest(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = part_len(self.closed) - self.in_part;
            let take = room.min(bytes.len() as u64) as usize;
            match &mut self.held {
                Held::Source(reread) => reread.crc.update(&bytes[..take]),
                _ => self.part.update(&bytes[..take]),
            }
            self.in_part += take as u64;
            bytes = &bytes[take..];
            if self.in_part == part_len(self.closed) {
                self.close_part();
            }
        }
    }

    /// Ends the part being written: its MD5 (or CRC-32) kept.
    fn close_part(&mut self) {
        match &mut self.held {
            Held::Source(reread) => reread.crcs.push(std::mem::take(&mut reread.crc).finalize()),
            _ => self.digests.push(self.part.finalize_reset().into()),
        }
        self.closed += 1;
        self.in_part = 0;
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

impl Reread {
    /// Part `index`, `len` bytes from where the last one ended, checked
    /// against its CRC-32 and hashed on.
    fn read(&mut self, index: usize, len: u64) -> Result<Bytes, PartFailure> {
        let mut part = vec![0; len as usize];
        self.file
            .read_exact_at(&mut part, self.at)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => PartFailure::Changed,
                _ => PartFailure::Io(e),
            })?;
        if self.crcs.get(index) != Some(&crc32fast::hash(&part)) {
            return Err(PartFailure::Changed);
        }
        self.sha256.update(&part);
        self.at += len;
        Ok(Bytes::from(part))
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
            Held::Source(_) => buf.len(),
        };
        self.digest(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.held {
            Held::File { temp, .. } => temp.flush(),
            Held::Memory(_) | Held::Source(_) => Ok(()),
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
            closed: 0,
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
        Ok(self.holding(Held::Source(Box::new(Reread {
            file: file.try_clone()?,
            crcs: Vec::new(),
            crc: crc32fast::Hasher::new(),
            at: 0,
            sha256: Sha256::new(),
        }))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stager_in(dir: &Path) -> SpoolStager {
        SpoolStager {
            spool: dir.join("spool").into(),
            ready: Arc::default(),
        }
    }

    #[test]
    fn a_spool_holds_at_most_the_limit_in_memory_then_spills() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = stager_in(dir.path()).stage().unwrap();
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
        assert_eq!(spool.rewind().unwrap(), 1);
        let (back, _) = spool.read_part(0).unwrap();
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

    /// Bytes over two part boundaries, and what each part's MD5 must be.
    fn three_parts() -> (Vec<u8>, Vec<[u8; 16]>) {
        let bytes: Vec<u8> = (0..(2 * PART_SIZE + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        let md5s = bytes
            .chunks(PART_SIZE as usize)
            .map(|part| Md5::digest(part).into())
            .collect();
        (bytes, md5s)
    }

    #[test]
    fn each_part_gets_the_md5_of_its_own_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let stager = stager_in(dir.path());
        let (bytes, md5s) = three_parts();
        let mut spool = stager.stage().unwrap();
        // Written in pieces that straddle the part boundaries.
        for piece in bytes.chunks(777_777) {
            spool.write_all(piece).unwrap();
        }
        assert_eq!(spool.rewind().unwrap(), 3);
        for (index, part) in bytes.chunks(PART_SIZE as usize).enumerate() {
            assert_eq!(
                spool.read_part(index).unwrap(),
                (Bytes::copy_from_slice(part), md5s[index])
            );
        }
        let mut empty = stager.stage().unwrap();
        assert_eq!(empty.rewind().unwrap(), 1);
        assert_eq!(
            empty.read_part(0).unwrap().1,
            <[u8; 16]>::from(Md5::digest(b""))
        );
    }

    /// A large file staged and passed: read again, not spooled.
    fn passed_file(stager: &SpoolStager, path: &Path, bytes: &[u8]) -> Spool {
        fs::write(path, bytes).unwrap();
        let file = File::open(path).unwrap();
        let mut spool = stager.stage_file(&file, bytes.len() as u64).unwrap();
        for piece in bytes.chunks(777_777) {
            spool.write_all(piece).unwrap();
        }
        assert!(matches!(spool.held, Held::Source(_)));
        spool
    }

    #[test]
    fn a_large_file_read_again_gets_each_parts_md5_and_must_hash_to_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let stager = stager_in(dir.path());
        let (bytes, md5s) = three_parts();
        let id = ObjectId::from_bytes(Sha256::digest(&bytes));
        let mut spool = passed_file(&stager, &dir.path().join("input"), &bytes);
        assert!(!dir.path().join("spool").exists(), "nothing spooled");
        assert_eq!(spool.rewind().unwrap(), 3);
        for (index, part) in bytes.chunks(PART_SIZE as usize).enumerate() {
            assert_eq!(
                spool.read_part(index).unwrap(),
                (Bytes::copy_from_slice(part), md5s[index])
            );
        }
        spool.check_read_again(&id).unwrap();
        // Not its name: the bytes read again are not the object.
        spool.rewind().unwrap();
        (0..3).for_each(|index| _ = spool.read_part(index).unwrap());
        let other = ObjectId::from_bytes(Sha256::digest(b"other"));
        assert!(matches!(
            spool.check_read_again(&other),
            Err(PartFailure::Changed)
        ));
        // A small file is spooled as before.
        let file = File::open(dir.path().join("input")).unwrap();
        let small = stager.stage_file(&file, 1000).unwrap();
        assert!(matches!(small.held, Held::Memory(_)));
    }

    #[test]
    fn a_file_changed_or_cut_after_its_pass_is_caught_before_its_part_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let stager = stager_in(dir.path());
        let (bytes, _) = three_parts();
        let path = dir.path().join("input");
        let mut spool = passed_file(&stager, &path, &bytes);
        spool.rewind().unwrap();
        spool.read_part(0).unwrap();
        let writer = fs::OpenOptions::new().write(true).open(&path).unwrap();
        writer.write_all_at(b"x", PART_SIZE + 10).unwrap();
        assert!(matches!(spool.read_part(1), Err(PartFailure::Changed)));
        writer.set_len(PART_SIZE + 10).unwrap();
        spool.rewind().unwrap();
        spool.read_part(0).unwrap();
        assert!(matches!(spool.read_part(1), Err(PartFailure::Changed)));
    }

    /// Changes `part` at `at` and then 4 bytes from `fix` so that its
    /// CRC-32 stays the same (CRC is linear over GF(2): the 32 bits at
    /// `fix` are solved for), as someone writing to the file on purpose
    /// could.
    fn forge_same_crc(part: &mut [u8], at: usize, fix: usize) {
        let before = crc32fast::hash(part);
        part[at] ^= 0x5a;
        let zero = crc32fast::hash(&vec![0; part.len()]);
        // The CRC change of flipping each bit of the 4 bytes at `fix`.
        let mut rows: Vec<(u32, u32)> = (0..32)
            .map(|bit| {
                let mut flipped = vec![0; part.len()];
                flipped[fix + bit / 8] ^= 1 << (bit % 8);
                (crc32fast::hash(&flipped) ^ zero, 1u32 << bit)
            })
            .collect();
        let mut want = crc32fast::hash(part) ^ before;
        let mut flips = 0u32;
        for bit in (0..32).rev() {
            let Some(pivot) = rows.iter().position(|r| r.0 >> bit & 1 == 1) else {
                continue;
            };
            let row = rows.remove(pivot);
            for other in rows.iter_mut().filter(|r| r.0 >> bit & 1 == 1) {
                *other = (other.0 ^ row.0, other.1 ^ row.1);
            }
            if want >> bit & 1 == 1 {
                want ^= row.0;
                flips ^= row.1;
            }
        }
        assert_eq!(want, 0, "solved");
        for bit in 0..32 {
            if flips >> bit & 1 == 1 {
                part[fix + bit / 8] ^= 1 << (bit % 8);
            }
        }
        assert_eq!(crc32fast::hash(part), before);
    }

    #[test]
    fn a_change_made_to_keep_the_crc_is_still_caught_by_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let stager = stager_in(dir.path());
        let (bytes, _) = three_parts();
        let id = ObjectId::from_bytes(Sha256::digest(&bytes));
        let path = dir.path().join("input");
        let mut spool = passed_file(&stager, &path, &bytes);
        let mut second = bytes[PART_SIZE as usize..2 * PART_SIZE as usize].to_vec();
        forge_same_crc(&mut second, 1000, 2000);
        let writer = fs::OpenOptions::new().write(true).open(&path).unwrap();
        writer.write_all_at(&second, PART_SIZE).unwrap();
        assert_eq!(spool.rewind().unwrap(), 3);
        (0..3).for_each(|index| _ = spool.read_part(index).unwrap());
        assert!(matches!(
            spool.check_read_again(&id),
            Err(PartFailure::Changed)
        ));
    }
}
