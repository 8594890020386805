//! Media types as clients and backups declare them, made safe to record and
//! to send back in a header.
//!
//! A declared type is the sender's word, and some senders are hostile: a
//! list (`text/plain,text/html`) that a browser reads as its last member, a
//! newline that no header may carry, parameters that change how a browser
//! treats the bytes. So a declared type is reduced to one bare
//! `type/subtype` in the token grammar of RFC 9110, lower-cased, or dropped.

/// `declared` reduced to one valid media type without parameters
/// (`Text/Plain; charset=utf-8` is `text/plain`), or None when it is not
/// one (a list, a newline, an empty or missing part, a character outside
/// the token grammar).
pub fn clean(declared: &str) -> Option<String> {
    let bare = declared.split(';').next().unwrap_or("").trim();
    let (kind, subtype) = bare.split_once('/')?;
    let valid = |part: &str| !part.is_empty() && part.len() <= 127 && part.bytes().all(is_tchar);
    (valid(kind) && valid(subtype)).then(|| bare.to_ascii_lowercase())
}

/// RFC 9110's `tchar`: the characters of a token.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether a browser may show bytes of type `mime` in place: pictures,
/// sound, video, PDF and plain text. Anything else (HTML, SVG, XML,
/// scripts, and every type nobody listed) is sent as an attachment, so no
/// stored type can make the server's answer a page.
pub fn shown_inline(mime: &str) -> bool {
    let Some((kind, subtype)) = mime.split_once('/') else {
        return false;
    };
    match kind {
        "image" => !subtype.contains("svg") && !subtype.ends_with("+xml"),
        "audio" | "video" => !subtype.ends_with("+xml"),
        "application" => subtype == "pdf",
        "text" => subtype == "plain",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_type_is_one_bare_type_or_nothing() {
        assert_eq!(clean("image/JPEG").as_deref(), Some("image/jpeg"));
        assert_eq!(
            clean(" text/plain ; charset=utf-8").as_deref(),
            Some("text/plain")
        );
        assert_eq!(
            clean("application/vnd.ms-excel").as_deref(),
            Some("application/vnd.ms-excel")
        );
        for bad in [
            "text/plain,text/html",
            "text/plain\ntext/html",
            "text/plain\r\nX-Evil: 1",
            "text/",
            "/html",
            "text",
            "",
            "text/pl ain",
            "text/plain/html",
            "image/jpé",
        ] {
            assert_eq!(clean(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_passive_types_are_shown_in_place() {
        for inline in [
            "image/jpeg",
            "image/png",
            "audio/amr",
            "video/mp4",
            "application/pdf",
            "text/plain",
        ] {
            assert!(shown_inline(inline), "{inline}");
        }
        for attachment in [
            "text/html",
            "image/svg+xml",
            "text/xml",
            "application/xhtml+xml",
            "text/javascript",
            "application/octet-stream",
            "text/plain,text/html",
            "multipart/x-mixed-replace",
            "",
        ] {
            assert!(!shown_inline(attachment), "{attachment}");
        }
    }
}

/// What a type is, as the server's page groups entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Image = 0,
    Video = 1,
    Audio = 2,
    Document = 3,
    Other = 4,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Image,
        Kind::Video,
        Kind::Audio,
        Kind::Document,
        Kind::Other,
    ];

    /// The kind of `mime`: its top-level type for pictures, video and
    /// sound; PDF, text and office formats are documents.
    pub fn of(mime: &str) -> Kind {
        let document = mime == "application/pdf"
            || mime.starts_with("text/")
            || ["document", "msword", "spreadsheet", "presentation"]
                .iter()
                .any(|k| mime.contains(k));
        match mime.split('/').next() {
            Some("image") => Kind::Image,
            Some("video") => Kind::Video,
            Some("audio") => Kind::Audio,
            _ if document => Kind::Document,
            _ => Kind::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::Document => "document",
            Kind::Other => "other",
        }
    }

    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}
