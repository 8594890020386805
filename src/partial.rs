//! Partial uploads: the bytes of an upload sent in pieces (tus), kept on
//! this machine's disk until the last piece arrives and the upload goes
//! through the pass like any other.
//!
//! Each partial is three files in the store's `uploads/` folder (for an S3
//! store, in its cache folder beside the spool):
//!
//! ```text
//! <id>.json    what the upload is: its token, name, declared type, length
//! <id>.part    its bytes so far
//! <id>.acks    one line per acknowledged offset: "OFFSET SHA256-OF-PREFIX"
//! ```
//!
//! An offset is acknowledged (told to the client) only once the bytes up to
//! it are durable and its line is: so after a crash the partial is cut back
//! to its last acknowledged offset (bytes past it may be lost or zeros),
//! and the prefix is hashed again and checked against the line. A partial
//! that fails the check is discarded, never completed wrong. The running
//! SHA-256 of the prefix is kept in memory between pieces, so resuming
//! hashes nothing twice.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::hashing::Sha256;
use crate::object_id::ObjectId;

/// What a partial upload is, as its creation said.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartialInfo {
    /// The name of the token that made it: only that token may go on.
    pub token: String,
    pub name: String,
    /// The type the client declared (`filetype`), if any.
    #[serde(default)]
    pub declared: Option<String>,
    /// Its length in bytes; None while the client defers saying it.
    pub length: Option<u64>,
    /// `Upload-Metadata` as the client sent it, given back on HEAD.
    #[serde(default)]
    pub metadata: String,
    /// The SHA-256 the client says the whole upload has.
    #[serde(default)]
    pub expected: Option<ObjectId>,
    /// When it was made (RFC 3339).
    pub created: String,
    /// The client's address and User-Agent, recorded with the entry.
    #[serde(default)]
    pub remote: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Once it went through the pass and was stored: its SHA-256. Its
    /// bytes are gone then; this is kept (until it expires) so a client
    /// asking again hears it is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// The folder of partial uploads.
#[derive(Debug, Clone)]
pub struct Partials {
    dir: PathBuf,
}

/// A partial upload, its acknowledged bytes checked, ready to take more.
#[derive(Debug)]
pub struct Partial {
    pub id: String,
    pub info: PartialInfo,
    dir: PathBuf,
    /// Bytes acknowledged (durable, and their line written).
    acked: u64,
    /// Bytes written, acknowledged or not.
    written: u64,
    /// The SHA-256 of the first `offset` bytes, running.
    hasher: Sha256,
    /// The same of the first `acked` bytes, to roll back to.
    acked_hasher: Sha256,
}

/// What opening a partial found.
#[derive(Debug)]
pub enum Found {
    Ready(Box<Partial>),
    /// No such partial.
    Missing,
    /// Its bytes on disk do not match what was acknowledged: it was
    /// discarded. Says why.
    Discarded(String),
}

/// A partial as `ingest uploads ls` shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub info: PartialInfo,
    /// Bytes acknowledged.
    pub offset: u64,
    /// Since its last acknowledged piece (or its creation).
    pub idle: Duration,
    /// Bytes on disk, acknowledged or not.
    pub bytes: u64,
}

impl Partials {
    pub fn new(dir: PathBuf) -> Self {
        Partials { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes a partial of `info`, durable, under a fresh id.
    pub fn create(&self, info: PartialInfo) -> Result<Partial> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let mut random = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| anyhow::anyhow!("no randomness from the system"))?;
        let id = hex::encode(random);
        let partial = Partial {
            id,
            info,
            dir: self.dir.clone(),
            acked: 0,
            written: 0,
            hasher: Sha256::new(),
            acked_hasher: Sha256::new(),
        };
        for path in [partial.path("part"), partial.path("acks")] {
            File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        }
        partial.save_info()?;
        Ok(partial)
    }

    /// The partial `id`, cut back to its last acknowledged offset and
    /// checked against it (its prefix hashed again).
    pub fn open(&self, id: &str) -> Result<Found> {
        if !is_id(id) {
            return Ok(Found::Missing);
        }
        let mut partial = Partial {
            id: id.to_owned(),
            info: PartialInfo {
                token: String::new(),
                name: String::new(),
                declared: None,
                length: None,
                metadata: String::new(),
                expected: None,
                created: String::new(),
                remote: None,
                user_agent: None,
                outcome: None,
            },
            dir: self.dir.clone(),
            acked: 0,
            written: 0,
            hasher: Sha256::new(),
            acked_hasher: Sha256::new(),
        };
        let info_path = partial.path("json");
        partial.info = match fs::read(&info_path) {
            Ok(text) => serde_json::from_slice(&text)
                .with_context(|| format!("{} is not valid", info_path.display()))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
            Err(e) => return Err(e).with_context(|| format!("reading {}", info_path.display())),
        };
        if partial.info.outcome.is_some() {
            partial.acked = partial.info.length.unwrap_or(0);
            partial.written = partial.acked;
            return Ok(Found::Ready(Box::new(partial)));
        }
        let (acked, digest) = last_ack(&partial.path("acks"))?;
        let data_path = partial.path("part");
        let data = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&data_path)
            .with_context(|| format!("opening {}", data_path.display()))?;
        let len = data.metadata()?.len();
        if len < acked {
            let why = format!("{len} bytes on disk, {acked} acknowledged");
            partial.remove()?;
            return Ok(Found::Discarded(why));
        }
        if len > acked {
            // Bytes never acknowledged: the client sends them again.
            data.set_len(acked)
                .with_context(|| format!("cutting {}", data_path.display()))?;
        }
        let mut reader = BufReader::with_capacity(256 << 10, (&data).take(acked));
        loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            partial.hasher.update(buf);
            let n = buf.len();
            reader.consume(n);
        }
        if hex::encode(partial.hasher.clone().finalize()) != digest {
            partial.remove()?;
            return Ok(Found::Discarded(format!(
                "its first {acked} bytes no longer hash to what was acknowledged"
            )));
        }
        partial.acked = acked;
        partial.written = acked;
        partial.acked_hasher = partial.hasher.clone();
        Ok(Found::Ready(Box::new(partial)))
    }

    /// Every partial, by id; one that cannot be read is skipped.
    pub fn list(&self) -> Result<Vec<Listed>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.dir.display())),
        };
        let mut listed = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if !is_id(id) {
                continue;
            }
            let Ok(text) = fs::read(self.dir.join(&name)) else {
                continue;
            };
            let Ok(info) = serde_json::from_slice::<PartialInfo>(&text) else {
                continue;
            };
            let acks = self.dir.join(format!("{id}.acks"));
            let offset = last_ack(&acks).map(|(offset, _)| offset).unwrap_or(0);
            let idle = fs::metadata(&acks)
                .or_else(|_| fs::metadata(self.dir.join(&name)))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| SystemTime::now().duration_since(at).ok())
                .unwrap_or_default();
            let bytes = fs::metadata(self.dir.join(format!("{id}.part")))
                .map(|m| m.len())
                .unwrap_or(0);
            listed.push(Listed {
                id: id.to_owned(),
                info,
                offset,
                idle,
                bytes,
            });
        }
        listed.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(listed)
    }

    /// How long partial `id` has been untouched; None when there is none.
    pub fn idle(&self, id: &str) -> Option<Duration> {
        if !is_id(id) {
            return None;
        }
        let at = fs::metadata(self.dir.join(format!("{id}.acks")))
            .or_else(|_| fs::metadata(self.dir.join(format!("{id}.json"))))
            .and_then(|m| m.modified())
            .ok()?;
        Some(SystemTime::now().duration_since(at).unwrap_or_default())
    }

    /// Removes partial `id`'s files.
    pub fn remove(&self, id: &str) -> Result<()> {
        if !is_id(id) {
            bail!("{id:?} is not a partial upload's id");
        }
        remove_files(&self.dir, id)
    }
}

impl Partial {
    fn path(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", self.id))
    }

    /// Where its bytes are.
    pub fn data_path(&self) -> PathBuf {
        self.path("part")
    }

    /// Bytes acknowledged.
    pub fn offset(&self) -> u64 {
        self.acked
    }

    /// Bytes written, acknowledged or not.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Records that it was stored as `sha256`: its bytes go, its outcome
    /// stays.
    pub fn record_outcome(&mut self, sha256: String) -> Result<()> {
        self.info.outcome = Some(sha256);
        // Whole, whether its bytes came in pieces or were held already.
        self.acked = self.info.length.unwrap_or(self.acked);
        self.written = self.acked;
        self.save_info()?;
        for ext in ["part", "acks"] {
            let path = self.path(ext);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
        }
        Ok(())
    }

    /// Whether every byte of a known length has arrived.
    pub fn is_complete(&self) -> bool {
        self.info.length == Some(self.acked)
    }

    /// Opens its bytes for appending a piece.
    pub fn appender(&self) -> Result<File> {
        let path = self.path("part");
        OpenOptions::new()
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))
    }

    /// Writes `bytes` after those written so far (not yet acknowledged).
    pub fn append(&mut self, file: &File, bytes: &[u8]) -> io::Result<()> {
        file.write_all_at(bytes, self.written)?;
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Makes what was written durable, then acknowledges it: from here on
    /// the offset survives a crash.
    pub fn ack(&mut self, file: &File) -> Result<()> {
        if self.written == self.acked {
            return Ok(());
        }
        file.sync_data().context("syncing a partial upload")?;
        let line = format!(
            "{} {}\n",
            self.written,
            hex::encode(self.hasher.clone().finalize())
        );
        let acks = self.path("acks");
        let mut log = OpenOptions::new()
            .append(true)
            .open(&acks)
            .with_context(|| format!("opening {}", acks.display()))?;
        log.write_all(line.as_bytes())
            .and_then(|()| log.sync_data())
            .with_context(|| format!("writing {}", acks.display()))?;
        self.acked = self.written;
        self.acked_hasher = self.hasher.clone();
        Ok(())
    }

    /// Forgets what was written since the last acknowledgement (a piece
    /// whose checksum did not match, a write that failed): its bytes are
    /// cut off and the hash taken back.
    pub fn roll_back(&mut self, file: &File) -> Result<()> {
        self.written = self.acked;
        self.hasher = self.acked_hasher.clone();
        file.set_len(self.acked).context("cutting a partial upload")
    }

    /// Says the length a creation deferred.
    pub fn set_length(&mut self, length: u64) -> Result<()> {
        self.info.length = Some(length);
        self.save_info()
    }

    /// The SHA-256 of its bytes so far.
    pub fn digest(&self) -> ObjectId {
        ObjectId::from_bytes(self.hasher.clone().finalize())
    }

    /// Removes its files.
    pub fn remove(&self) -> Result<()> {
        remove_files(&self.dir, &self.id)
    }

    fn save_info(&self) -> Result<()> {
        let path = self.path("json");
        let mut temp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&self.dir)
            .with_context(|| format!("writing in {}", self.dir.display()))?;
        temp.write_all(&serde_json::to_vec(&self.info)?)
            .and_then(|()| temp.as_file().sync_all())
            .with_context(|| format!("writing {}", path.display()))?;
        temp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("writing {}", path.display()))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", self.dir.display()))
    }
}

/// A partial's id: 32 lower-case hex digits (so it is safe in a path).
fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The last whole line of an acks log: the offset and the prefix's digest
/// (0 and the empty digest when there is none).
fn last_ack(path: &Path) -> Result<(u64, String)> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let whole = match text.iter().rposition(|&b| b == b'\n') {
        Some(end) => &text[..end],
        None => &[][..],
    };
    let last = whole.rsplit(|&b| b == b'\n').next().unwrap_or(&[]);
    let last = String::from_utf8_lossy(last);
    match last.split_once(' ') {
        Some((offset, digest)) if !last.is_empty() => {
            let offset = offset
                .parse()
                .with_context(|| format!("{}: {last:?} is not an offset", path.display()))?;
            Ok((offset, digest.to_owned()))
        }
        _ => Ok((0, hex::encode(Sha256::new().finalize()))),
    }
}

fn remove_files(dir: &Path, id: &str) -> Result<()> {
    // The description last: a partial without one is no partial.
    for ext in ["part", "acks", "json"] {
        let path = dir.join(format!("{id}.{ext}"));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PartialInfo {
        PartialInfo {
            token: "phone".into(),
            name: "clip.mp4".into(),
            declared: None,
            length: Some(10),
            metadata: String::new(),
            expected: None,
            created: "2026-12-07T00:00:00Z".into(),
            remote: None,
            user_agent: None,
            outcome: None,
        }
    }

    #[test]
    fn a_partial_resumes_from_its_last_acknowledged_offset() {
        let dir = tempfile::tempdir().unwrap();
        let partials = Partials::new(dir.path().to_owned());
        let mut partial = partials.create(info()).unwrap();
        let file = partial.appender().unwrap();
        partial.append(&file, b"hello").unwrap();
        partial.ack(&file).unwrap();
        // Written, never acknowledged: gone after a reopening.
        partial.append(&file, b"wor").unwrap();
        let Found::Ready(mut again) = partials.open(&partial.id).unwrap() else {
            panic!("not found")
        };
        assert_eq!(again.offset(), 5);
        let file = again.appender().unwrap();
        again.append(&file, b"world").unwrap();
        again.ack(&file).unwrap();
        assert!(again.is_complete());
        assert_eq!(
            again.digest(),
            ObjectId::from_bytes(Sha256::digest(b"helloworld"))
        );
        assert_eq!(fs::read(again.data_path()).unwrap(), b"helloworld");
        let listed = partials.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].offset, 10);
        // Bytes changed behind it: discarded, not completed wrong.
        fs::write(again.data_path(), b"HELLOworld").unwrap();
        assert!(matches!(
            partials.open(&again.id).unwrap(),
            Found::Discarded(_)
        ));
        assert!(partials.list().unwrap().is_empty());
    }

    #[test]
    fn a_piece_rolled_back_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let partials = Partials::new(dir.path().to_owned());
        let mut partial = partials.create(info()).unwrap();
        let file = partial.appender().unwrap();
        partial.append(&file, b"good").unwrap();
        partial.ack(&file).unwrap();
        partial.append(&file, b"bad").unwrap();
        partial.roll_back(&file).unwrap();
        partial.append(&file, b"better").unwrap();
        partial.ack(&file).unwrap();
        assert_eq!(fs::read(partial.data_path()).unwrap(), b"goodbetter");
        assert_eq!(
            partial.digest(),
            ObjectId::from_bytes(Sha256::digest(b"goodbetter"))
        );
        assert!(matches!(
            partials.open("../../etc/passwd").unwrap(),
            Found::Missing
        ));
    }
}
