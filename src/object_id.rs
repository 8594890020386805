//! The name of an object: the SHA-256 of its content.

use std::fmt;
use std::str::FromStr;

/// A SHA-256 digest, shown and stored as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 32]);

impl ObjectId {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ObjectId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The object's fan-out folder: its first two hex digits.
    pub fn fanout(&self) -> String {
        hex::encode(&self.0[..1])
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the digest's length.
        let _ = hex::encode_to_slice(self.0, &mut text);
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

/// The text was not 64 hex digits.
#[derive(Debug, thiserror::Error)]
#[error("not a SHA-256 hex digest: {0:?}")]
pub struct BadObjectId(String);

impl FromStr for ObjectId {
    type Err = BadObjectId;

    /// Accepts only the canonical form (64 lowercase hex digits), so one object
    /// has exactly one name.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadObjectId(text.to_owned());
        if text.len() != 64 {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        // A table and one check at the end: a nightly re-run parses a hash
        // for every cache record, manifest line and object name.
        let mut seen = 0u8;
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
            seen |= hi | lo;
            *byte = hi << 4 | lo;
        }
        if seen > 0x0f {
            return Err(bad());
        }
        Ok(ObjectId(bytes))
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Each byte's value as a lowercase hex digit, or 0xff.
static HEX_VALUE: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 16 {
        let digit = b"0123456789abcdef"[i];
        table[digit as usize] = i as u8;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let text = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let id: ObjectId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(id.fanout(), "e3");
    }

    #[test]
    fn refuses_uppercase_and_wrong_length() {
        assert!(
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
                .parse::<ObjectId>()
                .is_err()
        );
        assert!("e3b0".parse::<ObjectId>().is_err());
        let mut text =
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_owned();
        text.replace_range(10..11, "g");
        assert!(text.parse::<ObjectId>().is_err());
    }
}
