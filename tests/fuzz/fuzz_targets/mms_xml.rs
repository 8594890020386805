//! The MMS scanner on any bytes: it never panics, and what it reports
//! (events, kept values, decoded data, errors with their offsets) does not
//! depend on how its input is buffered.
#![no_main]

use std::io::{BufReader, Read};

use ingest::mms::base64::Base64Reader;
use ingest::mms::xml::{Event, Scanner, ValueMode};
use libfuzzer_sys::fuzz_target;

/// Everything the scanner says about `xml`, read through a buffer of `cap` bytes.
fn trace(xml: &[u8], cap: usize) -> Vec<String> {
    let mut scanner = Scanner::new(BufReader::with_capacity(cap, xml));
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        match scanner.next_event() {
            Ok(Event::Start { name, offset }) => {
                seen.push(format!("<{name}@{offset}"));
                loop {
                    match scanner.attribute() {
                        Ok(Some(attr)) if attr == "data" => {
                            let mut decoded = Vec::new();
                            let mut reader =
                                Base64Reader::new(scanner.value_reader(ValueMode::Base64));
                            let result = reader.read_to_end(&mut decoded);
                            drop(reader);
                            seen.push(format!("data={decoded:?} {:?}", result.map_err(|e| e.to_string())));
                            if let Some(damage) = scanner.take_damage() {
                                seen.push(format!("damage {damage}"));
                                return seen;
                            }
                            if let Err(e) = scanner.skip_value() {
                                seen.push(format!("error {e}"));
                                return seen;
                            }
                        }
                        Ok(Some(attr)) => match scanner.value_text(16) {
                            Ok(value) => seen.push(format!("{attr}={value:?}")),
                            Err(e) => {
                                seen.push(format!("error {e}"));
                                return seen;
                            }
                        },
                        Ok(None) => break,
                        Err(e) => {
                            seen.push(format!("error {e}"));
                            return seen;
                        }
                    }
                }
            }
            Ok(Event::End { name }) => seen.push(format!("/{name}")),
            Ok(Event::Eof) => return seen,
            Err(e) => {
                seen.push(format!("error {e}"));
                return seen;
            }
        }
    }
    seen
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, xml)) = data.split_first() else { return };
    let small = usize::from(seed % 7) + 1;
    assert_eq!(trace(xml, small), trace(xml, 64 * 1024));
});
