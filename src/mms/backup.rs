//! Opening a backup: a file or standard input, gzip-compressed or not,
//! read through one counting layer that drives the progress bar.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use flate2::bufread::MultiGzDecoder;

use crate::input;
use crate::pipeline::BUFFER_LEN;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// A backup, open, its XML ready to scan.
pub struct Backup {
    /// The absolute path, or `-`.
    pub source: OsString,
    pub xml: Box<dyn BufRead>,
}

/// Counts bytes read from a backup (for a progress bar, say).
pub type ReadCounter = Box<dyn FnMut(u64)>;

/// Opens `given` (`-` for standard input). Compression is told by the
/// first bytes, not the name: backups get renamed. `counter` is given the
/// backup's size, when known, and gets back what counts its bytes.
pub fn open(given: &OsStr, counter: impl FnOnce(Option<u64>) -> ReadCounter) -> Result<Backup> {
    let (file, source) = if given == "-" {
        let fd = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .context("standard input is closed")?;
        (File::from(fd), OsString::from("-"))
    } else {
        let path = Path::new(given);
        let file = File::open(path)?;
        (file, input::absolute(path)?.into_os_string())
    };
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(anyhow!("is a directory, not a backup file"));
    }
    let size = meta.file_type().is_file().then_some(meta.len());
    let counted = Counted {
        inner: file,
        counter: counter(size),
    };
    let mut raw = BufReader::with_capacity(BUFFER_LEN, counted);
    let head = raw.fill_buf().context("read failed")?;
    let xml: Box<dyn BufRead> = if head.starts_with(GZIP_MAGIC) {
        Box::new(BufReader::with_capacity(
            BUFFER_LEN,
            MultiGzDecoder::new(raw),
        ))
    } else if head.starts_with(ZIP_MAGIC) {
        return Err(anyhow!(
            "is a zip archive (the app's zip or encrypted export): unzip it first, then pass the .xml inside"
        ));
    } else {
        Box::new(raw)
    };
    Ok(Backup { source, xml })
}

/// Counts the backup's bytes as read from the disk or pipe (compressed
/// bytes for a gzip backup), so that the bar's total is the file's size.
struct Counted {
    inner: File,
    counter: ReadCounter,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.counter)(n as u64);
        Ok(n)
    }
}
