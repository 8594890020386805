//! Names of files as the store records them and as they are written out:
//! one rule for their length, so a name recorded from an upload and the
//! same name exported keep the same extension.

/// A name longer than this (in bytes) is cut, keeping its extension; the
/// filesystem limit is 255, and a " (N)" suffix may still be added.
pub const MAX_NAME: usize = 240;

/// Cuts a name to [`MAX_NAME`] bytes on a character boundary, keeping a
/// short extension.
pub fn shorten(name: String) -> String {
    if name.len() <= MAX_NAME {
        return name;
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let mut cut = MAX_NAME - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_keep_their_extension_and_whole_characters() {
        let long = shorten(format!("{}.jpeg", "x".repeat(300)));
        assert!(long.len() <= MAX_NAME && long.ends_with(".jpeg"), "{long}");
        let wide = shorten(format!("{}.jpg", "é".repeat(200)));
        assert!(wide.len() <= MAX_NAME && wide.ends_with("é.jpg"), "{wide}");
        // An "extension" too long to be one is not kept whole.
        let odd = shorten(format!("a.{}", "y".repeat(300)));
        assert_eq!(odd.len(), MAX_NAME);
        assert_eq!(shorten("short.png".into()), "short.png");
    }
}
