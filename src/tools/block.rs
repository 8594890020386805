//! `ingest block`: the store's block list, the bytes every front end
//! refuses (`blocked` in its `config.json`).

use std::io::{self, BufRead, BufWriter, Write};

use anyhow::{Context, Result, anyhow};

use crate::cli::{BlockCommand, GlobalArgs};
use crate::exit::Exit;
use crate::object_id::ObjectId;
use crate::store::{Access, Opener};

pub fn run(global: &GlobalArgs, opener: &Opener, command: &BlockCommand) -> Result<Exit> {
    // Blocking before anything is stored makes the store, as a token does.
    let store = match command {
        BlockCommand::Add { .. } => opener.open(Access::Write)?.into_view(),
        _ => opener.view()?,
    };
    let (add, remove) = match command {
        BlockCommand::Ls => (Vec::new(), Vec::new()),
        BlockCommand::Add { hashes, from } => {
            let mut ids = parse(hashes)?;
            if let Some(from) = from {
                ids.extend(read_list(from)?);
            }
            (ids, Vec::new())
        }
        BlockCommand::Rm { hashes } => (Vec::new(), parse(hashes)?),
    };
    let list = store.change_block_list(&add, &remove)?;
    if !matches!(command, BlockCommand::Ls) {
        if !global.quiet {
            let count = crate::stderr::count(list.len() as u64, "hash", "hashes");
            say!("block: {count} on the list");
        }
        return Ok(Exit::Success);
    }
    let mut out = BufWriter::new(io::stdout().lock());
    for hex in list {
        super::line(&mut out, &hex)?;
    }
    out.flush()?;
    Ok(Exit::Success)
}

/// Full hashes only: the bytes may not be in the store, so a prefix could
/// name nothing, or the wrong thing.
fn parse(hashes: &[String]) -> Result<Vec<ObjectId>> {
    hashes
        .iter()
        .map(|hex| {
            hex.trim().parse::<ObjectId>().map_err(|e| {
                anyhow!(
                    "{}: {e} (a block needs all 64 hex digits)",
                    crate::stderr::escape(hex)
                )
            })
        })
        .collect()
}

/// One hash per line, the first word of each (so `sha256sum` output works);
/// blank lines and `#` comments skipped.
fn read_list(path: &std::path::Path) -> Result<Vec<ObjectId>> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Box::new(io::BufReader::new(file))
    };
    let mut ids = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        let word = line.split_whitespace().next().unwrap_or("");
        if word.is_empty() || word.starts_with('#') {
            continue;
        }
        let id = word
            .parse::<ObjectId>()
            .map_err(|e| anyhow!("{} line {}: {e}", path.display(), number + 1))?;
        ids.push(id);
    }
    Ok(ids)
}
