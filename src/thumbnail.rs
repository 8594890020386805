//! The small picture a camera keeps inside a JPEG (its EXIF thumbnail),
//! found in the file's first bytes: what a grid of photos can show without
//! sending each whole photo, and without an image decoder in the server
//! (none of the untrusted bytes are decoded, only the EXIF block's offsets
//! are read, and checked against its bounds).

use std::ops::Range;

/// How much of a JPEG's start is read for its thumbnail: EXIF lives in one
/// segment, whose length is a 16-bit number, after at most a few small
/// ones (JFIF), so the thumbnail lies in the first 64 KiB or so.
pub const HEAD_LEN: u64 = 128 * 1024;

/// A JPEG's EXIF thumbnail: where it lies in the file's first bytes, and
/// how the photo is to be turned (EXIF orientation, 1 to 8), which the
/// thumbnail's own bytes do not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub range: Range<usize>,
    pub orientation: u16,
}

/// The thumbnail as a picture of its own that a browser shows turned as
/// the photo is: its bytes, with an EXIF block of one tag (Orientation)
/// added after its start marker when the photo is not upright.
pub fn thumbnail_bytes(head: &[u8], found: &Found) -> Vec<u8> {
    let thumbnail = &head[found.range.clone()];
    if found.orientation == 1 || !(1..=8).contains(&found.orientation) {
        return thumbnail.to_vec();
    }
    let mut out = Vec::with_capacity(thumbnail.len() + 40);
    out.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE1]);
    // Length (itself included), "Exif\0\0", a little-endian TIFF header,
    // one IFD of one entry, no next IFD.
    out.extend_from_slice(&34u16.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0II*\0");
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&0x0112u16.to_le_bytes());
    out.extend_from_slice(&3u16.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&u32::from(found.orientation).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&thumbnail[2..]);
    out
}

/// Where the EXIF thumbnail lies in `head` (the start of a JPEG), if the
/// file has one that is itself a JPEG.
pub fn exif_thumbnail(head: &[u8]) -> Option<Found> {
    if !head.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    loop {
        if *head.get(at)? != 0xFF {
            return None;
        }
        let marker = *head.get(at + 1)?;
        match marker {
            // Fill before a marker.
            0xFF => at += 1,
            // The image data begins, or the file ends: no EXIF before it.
            0xDA | 0xD9 => return None,
            _ => {
                let len = usize::from(u16::from_be_bytes([*head.get(at + 2)?, *head.get(at + 3)?]));
                let body = head.get(at + 4..(at + 2 + len).max(at + 4))?;
                if marker == 0xE1 && body.starts_with(b"Exif\0\0") {
                    let tiff = at + 4 + 6;
                    let (inside, orientation) = thumbnail_in_tiff(&body[6..])?;
                    return Some(Found {
                        range: tiff + inside.start..tiff + inside.end,
                        orientation,
                    });
                }
                at += 2 + len;
            }
        }
    }
}

/// The thumbnail's place in a TIFF block: the second IFD's JPEG offset
/// (tag 0x0201) and length (0x0202), relative to the block's start; and
/// the first IFD's orientation (0x0112; 1, upright, when missing).
fn thumbnail_in_tiff(tiff: &[u8]) -> Option<(Range<usize>, u16)> {
    let big_endian = match tiff.get(..4)? {
        b"MM\0*" => true,
        b"II*\0" => false,
        _ => return None,
    };
    let u16_at = |i: usize| -> Option<usize> {
        let b = [*tiff.get(i)?, *tiff.get(i + 1)?];
        Some(usize::from(match big_endian {
            true => u16::from_be_bytes(b),
            false => u16::from_le_bytes(b),
        }))
    };
    let u32_at = |i: usize| -> Option<usize> {
        let b: [u8; 4] = tiff.get(i..i + 4)?.try_into().ok()?;
        let n = match big_endian {
            true => u32::from_be_bytes(b),
            false => u32::from_le_bytes(b),
        };
        usize::try_from(n).ok()
    };
    // A LONG (4) holds its value in place; so may a SHORT (3).
    let value = |entry: usize| -> Option<Option<usize>> {
        Some(match u16_at(entry + 2)? {
            3 => Some(u16_at(entry + 8)?),
            4 => Some(u32_at(entry + 8)?),
            _ => None,
        })
    };
    let first = u32_at(4)?;
    let mut orientation = 1;
    for i in 0..u16_at(first)? {
        let entry = first + 2 + 12 * i;
        if u16_at(entry)? == 0x0112
            && let Some(turn) = value(entry)?
        {
            orientation = u16::try_from(turn).unwrap_or(1);
        }
    }
    let second = u32_at(first + 2 + 12 * u16_at(first)?)?;
    if second == 0 {
        return None;
    }
    let (mut offset, mut length) = (None, None);
    for i in 0..u16_at(second)? {
        let entry = second + 2 + 12 * i;
        match (u16_at(entry)?, value(entry)?) {
            (0x0201, Some(at)) => offset = Some(at),
            (0x0202, Some(len)) => length = Some(len),
            _ => {}
        }
    }
    let start = offset?;
    let end = start.checked_add(length?)?;
    let thumbnail = tiff.get(start..end)?;
    (thumbnail.starts_with(&[0xFF, 0xD8]) && thumbnail.len() > 4)
        .then_some((start..end, orientation))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEDIA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/media");

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{MEDIA}/{name}")).unwrap()
    }

    #[test]
    fn finds_the_thumbnail_exiftool_embedded_in_either_byte_order() {
        for name in ["photo-exif.jpg", "photo-exif-mm.jpg"] {
            let photo = read(name);
            let found = exif_thumbnail(&photo).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(found.orientation, 1, "{name}");
            let range = found.range;
            // Embedded from an 80x60 JPEG of 1166 bytes (make.sh).
            assert_eq!(range.len(), 1166, "{name}");
            assert!(photo[range.clone()].starts_with(&[0xFF, 0xD8]), "{name}");
            assert!(photo[range].ends_with(&[0xFF, 0xD9]), "{name}");
        }
    }

    #[test]
    fn nothing_where_there_is_none_or_the_block_lies() {
        assert_eq!(exif_thumbnail(&read("photo.jpg")), None);
        assert_eq!(exif_thumbnail(&read("photo.png")), None);
        assert_eq!(exif_thumbnail(b""), None);
        // Every cut of a real file, and every byte of its EXIF block
        // changed: never a panic, never a range outside the input.
        let photo = read("photo-exif.jpg");
        for cut in 0..photo.len().min(2000) {
            if let Some(found) = exif_thumbnail(&photo[..cut]) {
                assert!(found.range.end <= cut);
            }
        }
        for i in 0..600 {
            for byte in [0x00, 0x7F, 0xFF] {
                let mut bent = photo.clone();
                bent[i] = byte;
                if let Some(found) = exif_thumbnail(&bent) {
                    assert!(found.range.end <= bent.len());
                }
            }
        }
    }

    #[test]
    fn a_turned_photo_gives_a_thumbnail_turned_the_same_way() {
        let photo = read("photo-exif-turned.jpg");
        let found = exif_thumbnail(&photo).unwrap();
        // exiftool -Orientation#=6 (make.sh): turn 90 degrees clockwise.
        assert_eq!(found.orientation, 6);
        let out = thumbnail_bytes(&photo, &found);
        // The thumbnail, now with an EXIF block of its own that says so.
        let again = exif_orientation_of(&out);
        assert_eq!(again, Some(6));
        assert!(out.ends_with(&photo[found.range.clone()][2..]));
        let upright = exif_thumbnail(&read("photo-exif.jpg")).unwrap();
        let plain = thumbnail_bytes(&read("photo-exif.jpg"), &upright);
        assert_eq!(plain, read("photo-exif.jpg")[upright.range].to_vec());
    }

    /// The orientation an EXIF block at a JPEG's start gives, read as the
    /// parser reads it (the block need not hold a thumbnail).
    fn exif_orientation_of(jpeg: &[u8]) -> Option<u16> {
        let tiff = &jpeg[4 + 2 + 6..];
        assert_eq!(&tiff[..4], b"II*\0");
        let entry = 8 + 2;
        assert_eq!(u16::from_le_bytes([tiff[entry], tiff[entry + 1]]), 0x0112);
        Some(u16::from_le_bytes([tiff[entry + 8], tiff[entry + 9]]))
    }
}
