//! Readers that misbehave on purpose, for the library's own tests.

use std::io::{self, Read};

/// Yields `good` bytes, then fails, as a dying disk or network share would.
pub struct FailsAfter {
    pub good: usize,
}

impl Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good == 0 {
            return Err(io::Error::other("device went away"));
        }
        let n = buf.len().min(self.good);
        buf[..n].fill(b'x');
        self.good -= n;
        Ok(n)
    }
}
