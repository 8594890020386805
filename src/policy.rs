//! Admission policy: which inputs may enter the store, decided while the
//! bytes stream through once. A rejected input leaves nothing behind.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use indicatif::HumanBytes;
use serde::Deserialize;

use crate::cli::PolicyArgs;
use crate::failure::Failure;
use crate::object_id::ObjectId;
use crate::pipeline::{Sink, SoFar};
use crate::scan::ClamdAddr;

/// Why an input was refused, in the words `--json` gives machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    TooLarge {
        limit: u64,
    },
    TypeDenied {
        mime: String,
        why: String,
    },
    HashMismatch {
        expected: ObjectId,
        actual: ObjectId,
    },
    Infected {
        signature: String,
    },
}

impl Rejection {
    /// The machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::TooLarge { .. } => "too_large",
            Rejection::TypeDenied { .. } => "type_denied",
            Rejection::HashMismatch { .. } => "hash_mismatch",
            Rejection::Infected { .. } => "infected",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TooLarge { limit } => {
                write!(
                    f,
                    "rejected: larger than --max-size {} ({limit} bytes)",
                    HumanBytes(*limit)
                )
            }
            Rejection::TypeDenied { mime, why } => write!(f, "rejected: type {mime} {why}"),
            Rejection::HashMismatch { expected, actual } => {
                write!(f, "rejected: SHA-256 is {actual}, expected {expected}")
            }
            Rejection::Infected { signature } => write!(f, "rejected: infected ({signature})"),
        }
    }
}

/// A MIME type pattern: `image/png`, `image/*` or `*/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimePattern(String);

impl FromStr for MimePattern {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.split_once('/') {
            Some((top, sub)) if !top.is_empty() && !sub.is_empty() && !sub.contains('/') => {
                if top == "*" && sub != "*" {
                    return Err(anyhow!(
                        "{text:?}: `*/{sub}` is not a MIME pattern (try `*/*`)"
                    ));
                }
                Ok(MimePattern(lower))
            }
            _ => Err(anyhow!(
                "{text:?} is not a MIME type pattern like image/* or video/mp4"
            )),
        }
    }
}

impl MimePattern {
    pub fn matches(&self, mime: &str) -> bool {
        let mime = mime.to_ascii_lowercase();
        match self.0.strip_suffix("/*") {
            Some("*") => true,
            Some(top) => mime.split_once('/').is_some_and(|(t, _)| t == top),
            None => self.0 == mime,
        }
    }
}

impl fmt::Display for MimePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A size such as `500K`, `100M`, `2G` (binary units), or plain bytes.
pub fn parse_size(text: &str) -> Result<u64> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    let number: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a size like 500K, 100M or 2G"))?;
    let shift = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(anyhow!("{text:?}: unknown unit (use K, M, G or T)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| anyhow!("{text:?} is too large"))
}

/// The rules for one run: from the store's `config.json`, overridden by
/// the command line.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub max_size: Option<u64>,
    pub allow: Vec<MimePattern>,
    pub deny: Vec<MimePattern>,
    pub clamd: Option<ClamdAddr>,
    pub scan_fail_open: bool,
    pub scan_timeout: Duration,
}

impl Policy {
    /// Whether a type may enter; `Err` says why not. `--deny` always wins;
    /// with any `--allow`, only what matches gets in.
    pub fn admit_type(&self, mime: &str) -> Result<(), Rejection> {
        if let Some(rule) = self.deny.iter().find(|p| p.matches(mime)) {
            return Err(Rejection::TypeDenied {
                mime: mime.to_owned(),
                why: format!("is denied (--deny {rule})"),
            });
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(mime)) {
            let allowed: Vec<String> = self.allow.iter().map(|p| p.to_string()).collect();
            return Err(Rejection::TypeDenied {
                mime: mime.to_owned(),
                why: format!("is not allowed (--allow {})", allowed.join(", ")),
            });
        }
        Ok(())
    }
}

/// The store's `config.json`: policy defaults, so cron lines stay short.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub max_size: Option<String>,
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
    pub clamd: Option<String>,
    pub scan_fail_open: Option<bool>,
    pub scan_timeout: Option<f64>,
}

impl StoreConfig {
    /// Reads `path`; a missing file is an empty config, a broken one an error.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not valid", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StoreConfig::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

impl Policy {
    /// The store's config, with each key the command line gives replaced.
    pub fn resolve(config: StoreConfig, args: &PolicyArgs) -> Result<Self> {
        let patterns = |cli: &[String], stored: Vec<String>| -> Result<Vec<MimePattern>> {
            let chosen = if cli.is_empty() { stored } else { cli.to_vec() };
            chosen.iter().map(|p| p.parse()).collect()
        };
        let max_size = args.max_size.clone().or(config.max_size);
        let clamd = args.clamd.clone().or(config.clamd);
        Ok(Policy {
            max_size: max_size
                .as_deref()
                .map(parse_size)
                .transpose()
                .context("--max-size")?,
            allow: patterns(&args.allow, config.allow).context("--allow")?,
            deny: patterns(&args.deny, config.deny).context("--deny")?,
            clamd: clamd
                .as_deref()
                .map(str::parse)
                .transpose()
                .context("--clamd")?,
            scan_fail_open: args.scan_fail_open || config.scan_fail_open.unwrap_or(false),
            scan_timeout: match (args.scan_timeout, config.scan_timeout) {
                (Some(secs), _) => seconds(secs).context("--scan-timeout")?,
                (None, Some(secs)) => seconds(secs).context("scan_timeout in config.json")?,
                (None, None) => DEFAULT_SCAN_TIMEOUT,
            }
            .max(Duration::from_millis(1)),
        })
    }
}

/// How long a scan waits for clamd unless told otherwise.
pub const DEFAULT_SCAN_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest wait any option takes: past it a number is a mistake (and
/// `inf` or 1e19 would overflow the clock's arithmetic).
pub const MAX_WAIT_SECS: f64 = 31_536_000.0;

/// A number of seconds as a wait, if it is one: finite, not negative, at
/// most a year.
pub fn seconds(secs: f64) -> Result<Duration> {
    if !(0.0..=MAX_WAIT_SECS).contains(&secs) {
        anyhow::bail!("{secs} is not a number of seconds from 0 to {MAX_WAIT_SECS} (a year)");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Cuts a stream off as soon as it passes the limit: the rest is never read.
pub struct SizeLimit(pub u64);

impl Sink for SizeLimit {
    fn take(&mut self, _chunk: &[u8], so_far: &SoFar) -> Result<(), Failure> {
        if so_far.bytes > self.0 {
            return Err(Failure::Rejected(Rejection::TooLarge { limit: self.0 }));
        }
        Ok(())
    }
}

/// Decides on the type as soon as the sniffing prefix is complete, so a
/// denied 4 GiB file costs a few KiB of reading.
pub struct TypeGate<'a> {
    pub policy: &'a Policy,
    /// The type to judge when the bytes show none (declared, or by name);
    /// None when not known yet: the caller judges the type at the end.
    pub fallback: Option<String>,
    pub decided: bool,
}

impl TypeGate<'_> {
    fn decide(&mut self, so_far: &SoFar) -> Result<(), Failure> {
        let Some(kind) = so_far.kind else {
            return Ok(());
        };
        if self.decided {
            return Ok(());
        }
        let Some(mime) = kind.map(|k| k.mime.as_str()).or(self.fallback.as_deref()) else {
            return Ok(());
        };
        self.decided = true;
        self.policy.admit_type(mime).map_err(Failure::Rejected)
    }
}

impl Sink for TypeGate<'_> {
    fn take(&mut self, _chunk: &[u8], so_far: &SoFar) -> Result<(), Failure> {
        self.decide(so_far)
    }

    fn finish(&mut self, so_far: &SoFar) -> Result<(), Failure> {
        self.decide(so_far)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(parse_size("500K").unwrap(), 500 << 10);
        assert_eq!(parse_size("100M").unwrap(), 100 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("1234").unwrap(), 1234);
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
    }

    #[test]
    fn deny_wins_over_allow() {
        let policy = Policy {
            allow: vec!["image/*".parse().unwrap()],
            deny: vec!["image/gif".parse().unwrap()],
            ..Policy::default()
        };
        assert!(policy.admit_type("image/png").is_ok());
        assert!(policy.admit_type("image/gif").is_err());
        assert!(policy.admit_type("video/mp4").is_err());
        assert!("image".parse::<MimePattern>().is_err());
        assert!("*/png".parse::<MimePattern>().is_err());
    }
}
