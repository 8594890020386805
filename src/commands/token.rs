//! `ingest token add|ls|rm`: the tokens `ingest serve` accepts, kept beside
//! the store as hashes.

use std::io::Write;

use anyhow::{Context, Result, bail};

use crate::cli::{GlobalArgs, ScopeArg, TokenCommand};
use crate::exit::Exit;
use crate::store::{Access, Opener};
use crate::tokens::{Scope, Tokens};

pub fn run(global: &GlobalArgs, opener: &Opener, command: &TokenCommand) -> Result<Exit> {
    let access = match command {
        TokenCommand::Add { .. } => Access::Write,
        TokenCommand::Ls | TokenCommand::Rm { .. } => Access::Read,
    };
    let path = opener.open(access)?.tokens_path();
    let mut tokens = Tokens::load(&path)?;
    match command {
        TokenCommand::Add {
            name,
            scope,
            read_only,
        } => {
            let scope = match (read_only, scope) {
                (true, _) | (false, ScopeArg::Read) => Scope::Read,
                (false, ScopeArg::Upload) => Scope::ReadWrite,
                (false, ScopeArg::Delete) => Scope::Delete,
            };
            let text = match tokens.add(name, scope) {
                Ok(text) => text,
                Err(usage) => {
                    say!("{usage:#}");
                    return Ok(Exit::Usage);
                }
            };
            // The token alone on stdout, so `TOKEN=$(ingest token add phone)`
            // works; shown before it is kept, since a token nobody saw must
            // not be kept (a closed or full stdout fails here, never quietly).
            let mut out = std::io::stdout().lock();
            if let Err(e) = crate::stdout::line(&mut out, &text).and_then(|()| out.flush()) {
                bail!("token {name:?} not made: it could not be written to standard output ({e})");
            }
            tokens.save(&path)?;
            if !global.quiet {
                say!("token {name:?} made; it is shown this once");
            }
        }
        TokenCommand::Ls => {
            let mut out = std::io::stdout().lock();
            for token in tokens.list() {
                let scope = token.scope.name();
                let row = match global.json {
                    true => serde_json::json!({
                        "name": token.name,
                        "scope": scope,
                        "created": token.created,
                    })
                    .to_string(),
                    false => format!("{}\t{scope}\t{}", token.name, token.created),
                };
                crate::stdout::line(&mut out, &row)?;
            }
        }
        TokenCommand::Rm { name } => {
            if !tokens.remove(name) {
                say!("no token named {name:?}");
                return Ok(Exit::Fatal);
            }
            tokens
                .save(&path)
                .with_context(|| format!("removing token {name:?}"))?;
        }
    }
    Ok(Exit::Success)
}
