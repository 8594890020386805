//! `ingest cat HASH`: an object to stdout, streamed.

use std::io::{self, Read, Write};

use anyhow::{Context, Result};

use crate::exit::Exit;
use crate::hashing::Sha256;
use crate::object_id::ObjectId;
use crate::store::LookupError;
use crate::store::Opener;

pub fn run(opener: &Opener, prefix: &str) -> Result<Exit> {
    let store = opener.view()?;
    let id = match store.resolve(prefix) {
        Ok(id) => id,
        Err(e @ LookupError::BadPrefix(_)) => {
            say!("{e}");
            return Ok(Exit::Usage);
        }
        Err(e) => return Err(e.into()),
    };
    let object = store.read_object(&id)?;
    let mut out = io::stdout().lock();
    // Checked as it streams, as export checks: the bytes are out before the
    // last one is read, so a damaged object is said after them, and fails.
    let mut checked = Checked {
        inner: object,
        hasher: Sha256::new(),
    };
    io::copy(&mut checked, &mut out).with_context(|| format!("writing {id} to standard output"))?;
    out.flush()?;
    if ObjectId::from_bytes(checked.hasher.finalize()) != id {
        say!("object {id} is damaged: its bytes do not hash to its name (run `ingest verify`)");
        return Ok(Exit::Fatal);
    }
    Ok(Exit::Success)
}

/// A reader that hashes what it reads.
struct Checked<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
