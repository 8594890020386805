//! `ingest uploads ls`: the partial (tus) uploads this machine holds.

use std::io::{self, BufWriter, Write};

use anyhow::Result;
use indicatif::HumanBytes;

use crate::cli::{GlobalArgs, UploadsCommand};
use crate::exit::Exit;
use crate::stderr::escape;
use crate::store::Opener;

pub fn run(global: &GlobalArgs, opener: &Opener, command: &UploadsCommand) -> Result<Exit> {
    let UploadsCommand::Ls = command;
    let store = opener.view()?;
    let mut out = BufWriter::new(io::stdout().lock());
    for partial in store.partials().list()? {
        let info = &partial.info;
        let row = match global.json {
            true => serde_json::json!({
                "id": partial.id,
                "token": info.token,
                "name": info.name,
                "offset": partial.offset,
                "length": info.length,
                "idle_seconds": partial.idle.as_secs(),
                "created": info.created,
                "stored": info.outcome,
            })
            .to_string(),
            false => {
                let whole = info
                    .length
                    .map_or_else(|| "?".to_owned(), |n| HumanBytes(n).to_string());
                let state = match &info.outcome {
                    Some(sha) => format!("stored as {}", &sha[..sha.len().min(12)]),
                    None => format!("{} of {whole}", HumanBytes(partial.offset)),
                };
                format!(
                    "{}  {}  {}  idle {}  {}",
                    partial.id,
                    escape(&info.token),
                    state,
                    humantime(partial.idle),
                    escape(&info.name)
                )
            }
        };
        super::line(&mut out, &row)?;
    }
    out.flush()?;
    Ok(Exit::Success)
}

/// An idle time, roughly: 40s, 12m, 3h, 2d.
fn humantime(idle: std::time::Duration) -> String {
    let secs = idle.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}
