//! Standard output: what the commands print there, one line at a time.

use std::io::{self, Write};

/// Writes one line to stdout (buffered by the caller's lock).
pub fn line(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")
}
