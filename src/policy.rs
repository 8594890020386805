//! Admission policy: which inputs may enter the store, decided while the
//! bytes stream through once. A rejected input leaves nothing behind.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;

use crate::object_id::ObjectId;
use crate::scan::ClamdAddr;

pub use crate::failure::{Rejection, Source};

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
    /// The pattern as given, lower-cased (`image/*`, `video/mp4`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

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
    /// Where `max_size`, `allow` and `deny` came from, for messages.
    pub max_size_from: Source,
    pub allow_from: Source,
    pub deny_from: Source,
    pub clamd: Option<ClamdAddr>,
    pub scan_fail_open: bool,
    pub scan_timeout: Duration,
    /// Objects the store refuses (`blocked` in `config.json`, written by
    /// `ingest rm --block`): removed once, never stored again.
    pub blocked: std::collections::HashSet<crate::object_id::ObjectId>,
}

impl Policy {
    /// Whether a type may enter; `Err` says why not. `--deny` always wins;
    /// with any `--allow`, only what matches gets in.
    pub fn admit_type(&self, mime: &str) -> Result<(), Rejection> {
        if let Some(rule) = self.deny.iter().find(|p| p.matches(mime)) {
            return Err(Rejection::TypeDenied {
                mime: mime.to_owned(),
                why: format!(
                    "is denied ({} {rule})",
                    self.deny_from.name("--deny", "deny")
                ),
            });
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(mime)) {
            let allowed: Vec<String> = self.allow.iter().map(|p| p.to_string()).collect();
            return Err(Rejection::TypeDenied {
                mime: mime.to_owned(),
                why: format!(
                    "is not allowed ({} {})",
                    self.allow_from.name("--allow", "allow"),
                    allowed.join(", ")
                ),
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
    /// SHA-256 hashes (hex) of content the store refuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// Days trashed entries stay before `gc` empties them.
    pub trash_days: Option<u64>,
}

impl StoreConfig {
    /// Reads `path`; a missing file is an empty config, a broken one an error.
    pub fn load(path: &Path) -> Result<Self> {
        crate::json_file::load_or_default(path)
    }
}

/// The text of a store's `config.json` (None: there is none) with `add`
/// put on its `blocked` list and `remove` taken off; keys this version
/// does not know are kept. Returns the new text when the list changed, and
/// the list as it now is. `shown` names the file in errors.
pub fn change_block_list(
    text: Option<&[u8]>,
    add: &[ObjectId],
    remove: &[ObjectId],
    shown: &str,
) -> Result<(Option<Vec<u8>>, Vec<String>)> {
    let mut config: serde_json::Value = match text {
        Some(bytes) => {
            serde_json::from_slice(bytes).with_context(|| format!("{shown} is not valid"))?
        }
        None => serde_json::json!({}),
    };
    let Some(object) = config.as_object_mut() else {
        anyhow::bail!("{shown} is not a JSON object");
    };
    let list = object
        .entry("blocked")
        .or_insert_with(|| serde_json::json!([]));
    let Some(list) = list.as_array_mut() else {
        anyhow::bail!("{shown}: blocked is not a list");
    };
    let before = list.clone();
    for id in add {
        let hex = serde_json::Value::String(id.to_string());
        if !list.contains(&hex) {
            list.push(hex);
        }
    }
    let removed: Vec<serde_json::Value> = remove
        .iter()
        .map(|id| serde_json::Value::String(id.to_string()))
        .collect();
    list.retain(|hex| !removed.contains(hex));
    let now: Vec<String> = list
        .iter()
        .filter_map(|hex| hex.as_str().map(str::to_owned))
        .collect();
    if *list == before {
        return Ok((None, now));
    }
    Ok((Some(serde_json::to_vec_pretty(&config)?), now))
}

/// The policy values a front end was given (its flags), each parsed once
/// and checked before any store is opened: a value that does not parse is
/// an error naming its flag.
#[derive(Debug, Clone, Default)]
pub struct PolicyGiven {
    pub max_size: Option<u64>,
    pub allow: Option<Vec<MimePattern>>,
    pub deny: Option<Vec<MimePattern>>,
    pub clamd: Option<ClamdAddr>,
    pub scan_fail_open: bool,
    pub scan_timeout: Option<Duration>,
}

impl PolicyGiven {
    /// Parses the values given, in the shape of the store's config (whose
    /// keys they replace).
    pub fn parse(given: StoreConfig) -> Result<Self> {
        let patterns = |list: Vec<String>, flag: &str| -> Result<Option<Vec<MimePattern>>> {
            if list.is_empty() {
                return Ok(None);
            }
            let parsed: Result<Vec<MimePattern>> = list.iter().map(|p| p.parse()).collect();
            parsed.with_context(|| flag.to_owned()).map(Some)
        };
        Ok(PolicyGiven {
            max_size: given
                .max_size
                .as_deref()
                .map(parse_size)
                .transpose()
                .context("--max-size")?,
            allow: patterns(given.allow, "--allow")?,
            deny: patterns(given.deny, "--deny")?,
            clamd: given
                .clamd
                .as_deref()
                .map(str::parse)
                .transpose()
                .context("--clamd")?,
            scan_fail_open: given.scan_fail_open.unwrap_or(false),
            scan_timeout: given
                .scan_timeout
                .map(seconds)
                .transpose()
                .context("--scan-timeout")?,
        })
    }
}

impl Policy {
    /// The store's config, with each value `given` sets in its place: the
    /// one place flags and config.json meet. A config value that does not
    /// parse is an error naming its key.
    pub fn resolve(config: StoreConfig, given: &PolicyGiven) -> Result<Self> {
        let from_config = |key: &str| Source::Config.name("", key);
        let patterns = |given: &Option<Vec<MimePattern>>, stored: Vec<String>, key: &str| {
            if let Some(given) = given {
                return Ok((given.clone(), Source::Given));
            }
            let parsed: Result<Vec<MimePattern>> = stored.iter().map(|p| p.parse()).collect();
            parsed
                .with_context(|| from_config(key))
                .map(|p| (p, Source::Config))
        };
        let (max_size, max_size_from) = match given.max_size {
            Some(size) => (Some(size), Source::Given),
            None => (
                config
                    .max_size
                    .as_deref()
                    .map(parse_size)
                    .transpose()
                    .with_context(|| from_config("max_size"))?,
                Source::Config,
            ),
        };
        let (allow, allow_from) = patterns(&given.allow, config.allow, "allow")?;
        let (deny, deny_from) = patterns(&given.deny, config.deny, "deny")?;
        let clamd = match &given.clamd {
            Some(clamd) => Some(clamd.clone()),
            None => config
                .clamd
                .as_deref()
                .map(str::parse)
                .transpose()
                .with_context(|| from_config("clamd"))?,
        };
        let scan_timeout = match given.scan_timeout {
            Some(timeout) => timeout,
            None => config
                .scan_timeout
                .map(seconds)
                .transpose()
                .with_context(|| from_config("scan_timeout"))?
                .unwrap_or(DEFAULT_SCAN_TIMEOUT),
        }
        .max(Duration::from_millis(1));
        Ok(Policy {
            max_size,
            allow,
            deny,
            max_size_from,
            allow_from,
            deny_from,
            clamd,
            scan_fail_open: given.scan_fail_open || config.scan_fail_open.unwrap_or(false),
            scan_timeout,
            blocked: config
                .blocked
                .iter()
                .map(|hex| hex.parse().map_err(|e| anyhow::anyhow!("{hex:?}: {e}")))
                .collect::<Result<_>>()
                .with_context(|| from_config("blocked"))?,
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
