//! Base64 decoding as a stream, for attachment data that never fits in
//! memory whole.
//!
//! `base64::read::DecoderReader` decodes at most a few hundred bytes per
//! call, which would feed the pass tiny chunks; this reader decodes its
//! whole fixed buffer at a time with the crate's engine.

use std::io::{self, Read};

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Base64 text in per call: decodes to 24 KiB chunks.
const TEXT_LEN: usize = 32 * 1024;

/// The standard alphabet, padding optional, as encoders in phones differ.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64 text (whitespace already removed) read from `inner`.
pub struct Base64Reader<R> {
    inner: R,
    text: Box<[u8]>,
    start: usize,
    end: usize,
    ended: bool,
    /// Decoded bytes kept for a caller whose buffer held fewer than three.
    spill: [u8; 3],
    spill_start: usize,
    spill_end: usize,
}

impl<R: Read> Base64Reader<R> {
    pub fn new(inner: R) -> Self {
        Base64Reader {
            inner,
            text: vec![0; TEXT_LEN].into_boxed_slice(),
            start: 0,
            end: 0,
            ended: false,
            spill: [0; 3],
            spill_start: 0,
            spill_end: 0,
        }
    }

    /// Reads until at least one quantum (4 characters) is buffered, or the
    /// text ends.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.text.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while !self.ended && self.end < 4 {
            match self.inner.read(&mut self.text[self.end..]) {
                Ok(0) => self.ended = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Decodes as many whole quanta as fit in `out` (all that is left, at the end).
    fn decode_into(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.end - self.start;
        let whole = if self.ended {
            available
        } else {
            available - available % 4
        };
        let room = out.len() / 3 * 4;
        let take = if whole <= room { whole } else { room };
        if take == 0 {
            return Ok(0);
        }
        let text = &self.text[self.start..self.start + take];
        let n = ENGINE.decode_slice(text, out).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("corrupt base64: {e}"))
        })?;
        self.start += take;
        Ok(n)
    }
}

impl<R: Read> Read for Base64Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.spill_start < self.spill_end {
            let n = (self.spill_end - self.spill_start).min(out.len());
            out[..n].copy_from_slice(&self.spill[self.spill_start..self.spill_start + n]);
            self.spill_start += n;
            return Ok(n);
        }
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.end - self.start < 4 && !self.ended {
                self.fill()?;
            }
            if self.start == self.end && self.ended {
                return Ok(0);
            }
            if out.len() < 3 {
                let mut spill = [0u8; 3];
                let n = self.decode_into(&mut spill)?;
                self.spill = spill;
                self.spill_start = 0;
                self.spill_end = n;
                return self.read(out);
            }
            let n = self.decode_into(out)?;
            if n > 0 {
                return Ok(n);
            }
            if self.ended && self.start == self.end {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn decode(text: &[u8], chunk: usize) -> io::Result<Vec<u8>> {
        let mut reader = Base64Reader::new(text);
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn decodes_across_buffer_boundaries_and_small_reads() {
        let data: Vec<u8> = (0..100_003u32).map(|i| (i * 7 % 251) as u8).collect();
        let text = STANDARD.encode(&data);
        for chunk in [1, 2, 5, 1000, 32 * 1024] {
            assert_eq!(
                decode(text.as_bytes(), chunk).unwrap(),
                data,
                "chunk {chunk}"
            );
        }
        let unpadded = text.trim_end_matches('=');
        assert_eq!(decode(unpadded.as_bytes(), 4096).unwrap(), data);
    }

    #[test]
    fn corrupt_text_is_an_error() {
        assert!(decode(b"QUJD*A==", 64).is_err());
        assert!(decode(b"QUJDR", 64).is_err());
    }
}
