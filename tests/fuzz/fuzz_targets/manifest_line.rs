//! Any bytes as a manifest: reading never panics, and every line read as an
//! entry writes back to a line that reads as the same entry.
#![no_main]

use ingest::manifest::{Line, Lines};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for line in Lines::new(data, 0) {
        let Ok(Line::Value(entry)) = line else { continue };
        let written = entry.to_line();
        let mut again = Lines::new(&written[..], 0);
        match again.next() {
            Some(Ok(Line::Value(back))) => {
                assert_eq!(back, entry);
                assert_eq!(back.identity(), entry.identity());
                assert_eq!(back.name_bytes(), entry.name_bytes());
            }
            other => panic!("an entry did not read back: {other:?}"),
        }
    }
});
