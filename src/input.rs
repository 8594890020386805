//! Opening an input: a path named on the command line, or standard input.

use std::ffi::{OsStr, OsString};
use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

/// An input, open and checked, ready for the pass.
pub struct Input {
    /// The name recorded in the manifest: the file's base name, or `--name`.
    pub name: OsString,
    /// The absolute path read, or `-` for standard input.
    pub source: OsString,
    /// The size when it is known in advance (regular files), for progress.
    pub size: Option<u64>,
    pub reader: Box<dyn Read>,
}

/// Opens a path named on the command line. Symlinks are followed; anything
/// but a regular file is refused before a byte is read, and a FIFO is opened
/// without blocking, so that naming one cannot hang the run.
pub fn open_path(path: &Path) -> Result<Input> {
    let (file, meta, source) = open_named(path)?;
    Ok(Input {
        name: path.file_name().unwrap_or(path.as_os_str()).to_owned(),
        source: source.into_os_string(),
        size: Some(meta.len()),
        reader: Box::new(file),
    })
}

/// [`open_regular`] for a path named on the command line, with the absolute
/// path recorded as its source.
pub fn open_named(path: &Path) -> Result<(File, Metadata, PathBuf)> {
    let (file, meta) = open_regular(path)?;
    Ok((file, meta, absolute(path)?))
}

/// Opens `path` for reading if it is a regular file, without blocking on a
/// FIFO; returns the file and what fstat said of it.
pub fn open_regular(path: &Path) -> Result<(File, Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(anyhow!("{}", not_regular(meta.file_type())));
    }
    Ok((file, meta))
}

/// Standard input, recorded under `name`.
pub fn open_stdin(name: &OsStr) -> Result<Input> {
    let file = File::from(
        io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .context("standard input is closed")?,
    );
    let meta = file.metadata().context("standard input")?;
    Ok(Input {
        name: name.to_owned(),
        source: OsString::from("-"),
        size: meta.file_type().is_file().then_some(meta.len()),
        reader: Box::new(file),
    })
}

/// Whether standard input holds data to store when no path is given: a pipe,
/// a socket or a redirected file does; a terminal or `/dev/null` (cron) does
/// not, and storing an empty object from it would be a silent mistake.
pub fn stdin_has_data() -> bool {
    let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    File::from(fd).metadata().is_ok_and(|m| {
        let t = m.file_type();
        t.is_fifo() || t.is_file() || t.is_socket()
    })
}

/// Whether standard input is closed: a closed descriptor 0 is reopened on
/// `/dev/null` before `main`, so both look the same, and neither holds
/// anything to store.
pub fn stdin_is_closed() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else {
        return true;
    };
    let null = std::fs::metadata("/dev/null").map(|m| m.rdev());
    File::from(fd)
        .metadata()
        .is_ok_and(|m| m.file_type().is_char_device() && null.is_ok_and(|n| n == m.rdev()))
}

/// What kind of file this is when it is not a regular one: "a FIFO",
/// "a socket", "a device", "a directory".
pub fn kind_name(kind: FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Why a path named on the command line cannot be read as a file.
pub fn not_regular(kind: FileType) -> String {
    match kind_name(kind) {
        "a directory" => "is a directory".to_owned(),
        "a FIFO" => {
            "is a FIFO, not a regular file (pipe it in: ingest --name NAME - < FIFO)".to_owned()
        }
        "not a regular file" => "is not a regular file".to_owned(),
        other => format!("is {other}, not a regular file"),
    }
}

/// The absolute path of `path`, with its directory's symlinks and `..`
/// resolved but the last component kept as named (it may be a symlink the
/// user meant).
pub fn absolute(path: &Path) -> io::Result<PathBuf> {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let dir = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            Ok(dir.canonicalize()?.join(name))
        }
        _ => path.canonicalize(),
    }
}
