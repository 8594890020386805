//! Sniffing a type from magic bytes, with what phones and cameras send in mind.
//!
//! `infer` knows most formats, but classifies the ISO base media family (MP4,
//! MOV, 3GP, M4A, HEIC) by a few major brands only, misses AMR-WB and MP3
//! without an ID3 tag. Our own matchers run first for those; `infer` does the
//! rest.

use std::ffi::OsStr;
use std::path::Path;

/// How many leading bytes the sniffer looks at. Enough for every matcher we
/// use: the longest fixed offsets in `infer` are a few hundred bytes, and an
/// `ftyp` box lists its brands in its first few dozen.
pub const PREFIX_LEN: usize = 8192;

/// A content type and the file extension that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub mime: String,
    pub ext: String,
}

/// Gathers the first [`PREFIX_LEN`] bytes of a stream across however many
/// reads deliver them (a pipe may hand them over a few bytes at a time), then
/// names the type.
pub struct Sniffer {
    prefix: Vec<u8>,
    matchers: infer::Infer,
}

impl Default for Sniffer {
    fn default() -> Self {
        Self::new()
    }
}

impl Sniffer {
    pub fn new() -> Self {
        Sniffer {
            prefix: Vec::with_capacity(PREFIX_LEN),
            matchers: matchers(),
        }
    }

    /// Forgets the previous stream, keeping the buffer for the next one.
    pub fn reset(&mut self) {
        self.prefix.clear();
    }

    /// Takes the next bytes of the stream; only the prefix is kept.
    pub fn update(&mut self, chunk: &[u8]) {
        let room = PREFIX_LEN - self.prefix.len();
        self.prefix
            .extend_from_slice(&chunk[..room.min(chunk.len())]);
    }

    /// True once the prefix is full, so that [`Sniffer::kind`] will not change
    /// however much more of the stream comes.
    pub fn is_settled(&self) -> bool {
        self.prefix.len() == PREFIX_LEN
    }

    /// The type the bytes so far show, if any matcher knows them.
    pub fn kind(&self) -> Option<Kind> {
        sniff(&self.matchers, &self.prefix)
    }
}

/// Names the type of a complete prefix.
pub fn sniff_bytes(prefix: &[u8]) -> Option<Kind> {
    sniff(&matchers(), prefix)
}

fn sniff(matchers: &infer::Infer, prefix: &[u8]) -> Option<Kind> {
    let found = matchers.get(prefix)?;
    Some(Kind {
        mime: found.mime_type().to_owned(),
        ext: found.extension().to_owned(),
    })
}

/// The type a file name's extension suggests, for content no matcher knows
/// (plain text, CSV, vCards).
pub fn kind_from_name(name: &OsStr) -> Option<Kind> {
    let path = Path::new(name);
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let mime = mime_guess::from_ext(&ext).first()?;
    Some(Kind {
        mime: mime.essence_str().to_owned(),
        ext,
    })
}

/// The extension a name carries, lower-cased, if it is text.
pub fn name_extension(name: &OsStr) -> Option<String> {
    Some(Path::new(name).extension()?.to_str()?.to_ascii_lowercase())
}

/// A usual file extension for a MIME type, for naming content that has
/// no name of its own.
pub fn ext_for_mime(mime: &str) -> Option<String> {
    if mime == "text/plain" {
        return Some("txt".to_owned());
    }
    let exts = mime_guess::get_mime_extensions_str(mime)?;
    exts.first().map(|e| (*e).to_owned())
}

/// Whether a name's extension is a fair name for content of `kind`: the
/// same, a usual synonym, or one the type is known by.
pub fn extension_fits(ext: &str, kind: &Kind) -> bool {
    const SYNONYMS: &[(&str, &str)] = &[
        ("jpeg", "jpg"),
        ("jpe", "jpg"),
        ("jfif", "jpg"),
        ("tiff", "tif"),
        ("heif", "heic"),
        ("hif", "heic"),
        ("qt", "mov"),
        ("3gpp", "3gp"),
        ("3gpp2", "3g2"),
        ("m4v", "mp4"),
        ("mp4", "m4a"),
        ("m4b", "m4a"),
        ("aac", "m4a"),
        ("oga", "ogg"),
        ("opus", "ogg"),
        ("ogg", "ogv"),
        ("3ga", "amr"),
    ];
    ext == kind.ext
        || SYNONYMS.contains(&(ext, kind.ext.as_str()))
        || mime_guess::from_ext(ext)
            .iter()
            .any(|m| m.essence_str() == kind.mime)
}

fn matchers() -> infer::Infer {
    let mut all = infer::Infer::new();
    // Order matters: the first match wins, and ours run before infer's own.
    all.add("image/heic", "heic", |b| {
        brand_family(b) == Some(Family::Heic)
    });
    all.add("image/heif", "heif", |b| {
        brand_family(b) == Some(Family::Heif)
    });
    all.add("image/avif", "avif", |b| {
        brand_family(b) == Some(Family::Avif)
    });
    all.add("video/quicktime", "mov", |b| {
        brand_family(b) == Some(Family::QuickTime)
    });
    all.add("video/3gpp", "3gp", |b| {
        brand_family(b) == Some(Family::ThreeGpp)
    });
    all.add("video/3gpp2", "3g2", |b| {
        brand_family(b) == Some(Family::ThreeGpp2)
    });
    all.add("audio/mp4", "m4a", |b| {
        brand_family(b) == Some(Family::Mp4Audio)
    });
    all.add("video/mp4", "mp4", |b| {
        brand_family(b) == Some(Family::Mp4Video)
    });
    all.add("audio/amr-wb", "awb", |b| b.starts_with(b"#!AMR-WB\n"));
    all.add("audio/amr", "amr", |b| b.starts_with(b"#!AMR\n"));
    all.add("audio/mpeg", "mp3", is_mpeg_audio_layer3);
    all.add("video/ogg", "ogv", is_ogg_video);
    all
}

/// An Ogg stream one of whose first (beginning-of-stream) pages starts a
/// video codec: Theora, VP8 or Dirac. infer calls every Ogg `audio/ogg`;
/// libmagic says `video/ogg` for these, and a gallery must not offer a
/// film as a voice note.
fn is_ogg_video(buf: &[u8]) -> bool {
    const VIDEO: [&[u8]; 4] = [b"\x80theora", b"OVP80", b"BBCD\0", b"\x80daala"];
    let mut page = buf;
    // Each logical stream begins with a page of its own, all before any
    // other page: walk those.
    while page.len() >= 27 && page.starts_with(b"OggS") && page[5] & 0x02 != 0 {
        let segments = usize::from(page[26]);
        let Some(table) = page.get(27..27 + segments) else {
            return false;
        };
        let body = &page[27 + segments..];
        if VIDEO.iter().any(|codec| body.starts_with(codec)) {
            return true;
        }
        let body_len: usize = table.iter().map(|&n| usize::from(n)).sum();
        let Some(next) = body.get(body_len..) else {
            return false;
        };
        page = next;
    }
    false
}

/// Which member of the ISO base media family a stream is, by the brands of
/// its leading `ftyp` box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Heic,
    Heif,
    Avif,
    QuickTime,
    ThreeGpp,
    ThreeGpp2,
    Mp4Audio,
    Mp4Video,
}

fn brand_family(buf: &[u8]) -> Option<Family> {
    let (major, compatible) = ftyp_brands(buf)?;
    let has = |brand: &[u8; 4]| major == *brand || compatible.clone().any(|b| b == *brand);
    let family = match &major {
        b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" => Family::Heic,
        b"avif" | b"avis" => Family::Avif,
        b"mif1" | b"msf1" if has(b"heic") || has(b"heix") || has(b"hevc") => Family::Heic,
        b"mif1" | b"msf1" if has(b"avif") => Family::Avif,
        b"mif1" | b"msf1" => Family::Heif,
        b"qt  " => Family::QuickTime,
        [b'3', b'g', b'2', _] => Family::ThreeGpp2,
        [b'3', b'g', _, _] => Family::ThreeGpp,
        b"M4A " | b"M4B " | b"M4P " => Family::Mp4Audio,
        b"isom" | b"iso2" | b"iso3" | b"iso4" | b"iso5" | b"iso6" | b"iso8" | b"mp41" | b"mp42"
        | b"mp71" | b"avc1" | b"dash" | b"mmp4" | b"M4V " | b"MSNV" | b"XAVC" | b"f4v "
        | b"NDAS" => Family::Mp4Video,
        _ => return None,
    };
    Some(family)
}

/// The major brand and the compatible brands of a leading `ftyp` box.
fn ftyp_brands(buf: &[u8]) -> Option<([u8; 4], impl Iterator<Item = [u8; 4]> + Clone + '_)> {
    if buf.len() < 16 || &buf[4..8] != b"ftyp" {
        return None;
    }
    let declared = u32::from_be_bytes(buf[0..4].try_into().ok()?) as usize;
    let end = declared.clamp(16, buf.len());
    let major: [u8; 4] = buf[8..12].try_into().ok()?;
    let compatible = buf[16..end]
        .chunks_exact(4)
        .filter_map(|b| <[u8; 4]>::try_from(b).ok());
    Some((major, compatible))
}

/// An MPEG audio Layer III frame header at the start (an MP3 with no ID3 tag),
/// for every MPEG version, with or without CRC. infer knows only some of them.
fn is_mpeg_audio_layer3(buf: &[u8]) -> bool {
    if buf.starts_with(b"ID3") {
        return true;
    }
    let [0xFF, b1, b2, ..] = *buf else {
        return false;
    };
    let sync = b1 & 0xE0 == 0xE0;
    let version_ok = (b1 >> 3) & 0b11 != 0b01;
    let layer3 = (b1 >> 1) & 0b11 == 0b01;
    let bitrate_ok = b2 >> 4 != 0b1111;
    let rate_ok = (b2 >> 2) & 0b11 != 0b11;
    sync && version_ok && layer3 && bitrate_ok && rate_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len();
        let mut b = (size as u32).to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0, 0, 2, 0]);
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b.extend_from_slice(&[0, 0, 0, 8, b'f', b'r', b'e', b'e']);
        b
    }

    fn mime(buf: &[u8]) -> Option<String> {
        sniff_bytes(buf).map(|k| k.mime)
    }

    #[test]
    fn iso_family_by_brand() {
        assert_eq!(
            mime(&ftyp(b"heic", &[b"mif1", b"heic"])).as_deref(),
            Some("image/heic")
        );
        assert_eq!(
            mime(&ftyp(b"mif1", &[b"mif1", b"heic"])).as_deref(),
            Some("image/heic")
        );
        assert_eq!(
            mime(&ftyp(b"mif1", &[b"mif1"])).as_deref(),
            Some("image/heif")
        );
        assert_eq!(
            mime(&ftyp(b"qt  ", &[b"qt  "])).as_deref(),
            Some("video/quicktime")
        );
        assert_eq!(
            mime(&ftyp(b"3gp4", &[b"isom", b"3gp4"])).as_deref(),
            Some("video/3gpp")
        );
        assert_eq!(
            mime(&ftyp(b"3g2a", &[b"3g2a"])).as_deref(),
            Some("video/3gpp2")
        );
        assert_eq!(
            mime(&ftyp(b"M4A ", &[b"M4A ", b"mp42"])).as_deref(),
            Some("audio/mp4")
        );
        assert_eq!(
            mime(&ftyp(b"isom", &[b"isom", b"avc1"])).as_deref(),
            Some("video/mp4")
        );
    }

    #[test]
    fn amr_narrow_and_wide_band() {
        assert_eq!(
            mime(b"#!AMR\n\x3c\x00\x00\x00\x00\x00\x00").as_deref(),
            Some("audio/amr")
        );
        assert_eq!(
            mime(b"#!AMR-WB\n\x24\x00\x00\x00\x00").as_deref(),
            Some("audio/amr-wb")
        );
    }

    #[test]
    fn mp3_frames_without_id3() {
        // MPEG-1 Layer III with CRC, which infer misses.
        assert_eq!(
            mime(&[0xFF, 0xFA, 0x90, 0x64, 0, 0]).as_deref(),
            Some("audio/mpeg")
        );
        // ADTS AAC shares the sync word but is layer 0.
        assert_ne!(
            mime(&[0xFF, 0xF1, 0x50, 0x80, 0, 0]).as_deref(),
            Some("audio/mpeg")
        );
    }

    #[test]
    fn prefix_gathered_across_tiny_updates() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let mut sniffer = Sniffer::new();
        for byte in png {
            sniffer.update(std::slice::from_ref(byte));
        }
        assert_eq!(sniffer.kind().map(|k| k.mime).as_deref(), Some("image/png"));
        assert!(!sniffer.is_settled());
    }

    #[test]
    fn extension_fallback() {
        let kind = kind_from_name(OsStr::new("notes.TXT")).unwrap();
        assert_eq!(
            (kind.mime.as_str(), kind.ext.as_str()),
            ("text/plain", "txt")
        );
        assert!(kind_from_name(OsStr::new("README")).is_none());
    }
}
