//! `ingest cat HASH`: an object to stdout, streamed.

use std::io::{self, Write};

use anyhow::{Context, Result};

use crate::cli::GlobalArgs;
use crate::exit::Exit;
use crate::store::LookupError;

pub fn run(global: &GlobalArgs, prefix: &str) -> Result<Exit> {
    let store = super::open_store(global)?;
    let id = match store.resolve(prefix) {
        Ok(id) => id,
        Err(e @ LookupError::BadPrefix(_)) => {
            say!("{e}");
            return Ok(Exit::Usage);
        }
        Err(e) => return Err(e.into()),
    };
    let mut object = store.read_object(&id)?;
    let mut out = io::stdout().lock();
    io::copy(&mut object, &mut out).with_context(|| format!("writing {id} to standard output"))?;
    out.flush()?;
    Ok(Exit::Success)
}
