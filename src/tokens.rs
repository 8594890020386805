//! The bearer tokens `ingest serve` accepts: made and listed by `ingest
//! token`, kept beside the store as their SHA-256 only, so the file that
//! holds them gives away no token.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::hashing::Sha256;

/// What a token lets its holder do; each scope includes those before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Read entries and objects.
    Read,
    /// Read, and upload (`upload` on the command line).
    ReadWrite,
    /// Upload and read, and move entries to the trash and back.
    Delete,
}

impl Scope {
    /// As `token ls` and the server show it.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ReadWrite => "read-write",
            Scope::Delete => "delete",
        }
    }
}

/// One token as kept: its name, scope, and the SHA-256 of its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub name: String,
    pub scope: Scope,
    /// Hex SHA-256 of the token's text.
    pub sha256: String,
    pub created: String,
}

/// The tokens of one store, as kept in their file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tokens {
    tokens: Vec<Token>,
}

/// Every token starts so, which makes one easy to spot in a leaked config
/// (secret scanners match on such prefixes).
const PREFIX: &str = "ingest_";

/// The longest token name: it goes into logs and manifest lines.
pub const MAX_NAME: usize = 64;

impl Tokens {
    /// Reads the tokens at `path`; a missing file holds none.
    pub fn load(path: &Path) -> Result<Self> {
        crate::json_file::load_or_default(path)
    }

    /// Writes them to `path` by rename, readable by the owner alone.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut temp = tempfile::Builder::new()
            .prefix(".tokens-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile_in(dir)
            .with_context(|| format!("writing in {}", dir.display()))?;
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        temp.write_all(&text)?;
        temp.as_file().sync_all()?;
        temp.persist(path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    pub fn list(&self) -> &[Token] {
        &self.tokens
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Makes a token named `name`; returns its text, which is kept nowhere.
    pub fn add(&mut self, name: &str, scope: Scope) -> Result<String> {
        check_name(name)?;
        if self.tokens.iter().any(|t| t.name == name) {
            bail!("a token named {name:?} exists already; remove it first (ingest token rm)");
        }
        let mut secret = [0u8; 32];
        SystemRandom::new()
            .fill(&mut secret)
            .map_err(|_| anyhow::anyhow!("no randomness from the system"))?;
        let text = format!("{PREFIX}{}", hex::encode(secret));
        self.tokens.push(Token {
            name: name.to_owned(),
            scope,
            sha256: digest(&text),
            created: jiff::Timestamp::now()
                .round(jiff::Unit::Second)?
                .to_string(),
        });
        Ok(text)
    }

    /// Removes the token named `name`; false if there is none.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.tokens.len();
        self.tokens.retain(|t| t.name != name);
        self.tokens.len() != before
    }

    /// The token whose text was presented, if any. Every kept token is
    /// compared, each in constant time, so the time taken says nothing of
    /// how close a guess came.
    pub fn find(&self, presented: &str) -> Option<&Token> {
        let presented = digest(presented);
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.sha256.as_bytes().ct_eq(presented.as_bytes())) {
                found = Some(token);
            }
        }
        found
    }
}

/// Where a local store keeps its tokens.
pub fn path_in(root: &Path) -> PathBuf {
    root.join("tokens.json")
}

fn digest(text: &str) -> String {
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    hex::encode(h.finalize())
}

/// A name is a short label of letters, digits, `-`, `_` and `.`: it shows
/// in logs and manifest lines, so nothing there needs escaping.
fn check_name(name: &str) -> Result<()> {
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(fits) {
        bail!(
            "a token name is 1 to {MAX_NAME} letters, digits, '-', '_' or '.' ({:?} is not)",
            crate::stderr::escape(name)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_found_by_its_text_alone() {
        let mut tokens = Tokens::default();
        let text = tokens.add("phone", Scope::ReadWrite).unwrap();
        assert!(text.starts_with(PREFIX) && text.len() == PREFIX.len() + 64);
        assert_eq!(tokens.find(&text).unwrap().name, "phone");
        assert!(tokens.find("ingest_00").is_none());
        assert!(tokens.add("phone", Scope::Read).is_err());
        assert!(tokens.add("bad name", Scope::Read).is_err());
        assert!(tokens.remove("phone"));
        assert!(tokens.find(&text).is_none());
    }
}
