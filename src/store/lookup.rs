//! What a hash prefix names, for every store: `cat 5891b5`, `export HASH`.

use crate::object_id::ObjectId;

/// What a hash prefix names.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no object has a hash starting with {0}")]
    Unknown(String),
    #[error("{prefix} is ambiguous: it starts {} objects ({})", .matches.len(), .matches.join(", "))]
    Ambiguous {
        prefix: String,
        matches: Vec<String>,
    },
    #[error("{0:?} is not a hash prefix: give at least 6 hex digits")]
    BadPrefix(String),
}

impl LookupError {
    /// The prefix, lower-cased, if it can name an object.
    pub fn checked_prefix(prefix: &str) -> Result<String, LookupError> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.len() < 6 || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LookupError::BadPrefix(prefix));
        }
        Ok(prefix)
    }

    /// The one object among `matches` (hex names), or why there is not one.
    pub fn only_match(prefix: String, mut matches: Vec<String>) -> Result<ObjectId, LookupError> {
        matches.sort();
        match matches.len() {
            0 => Err(LookupError::Unknown(prefix)),
            1 => matches[0].parse().map_err(|_| LookupError::Unknown(prefix)),
            _ => Err(LookupError::Ambiguous { prefix, matches }),
        }
    }
}
