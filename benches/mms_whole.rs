//! The whole-attribute approach to MMS extraction, for benches/mms.sh:
//! quick-xml reads each start tag whole into its buffer, the `data` value is
//! unescaped into a String, decoded into a Vec, then hashed. This is how
//! extractors built on a general XML reader work; memory grows with the
//! largest attachment. Prints one SHA-256 per attachment.

use std::fs::File;
use std::io::BufReader;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ingest::hashing::Sha256;
use quick_xml::Reader;
use quick_xml::events::Event;

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .expect("usage: mms_whole FILE");
    let file = BufReader::with_capacity(32 << 10, File::open(path).expect("open backup"));
    let mut reader = Reader::from_reader(file);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).expect("XML") {
            Event::Eof => break,
            Event::Start(tag) | Event::Empty(tag) if tag.name().into_inner() == "part" => {
                for attr in tag.attributes() {
                    let attr = attr.expect("attribute");
                    if attr.key.into_inner() == "data" && !attr.value.is_empty() {
                        let text = attr
                            .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                            .expect("unescape");
                        let clean: String = text.split_whitespace().collect();
                        let bytes = STANDARD.decode(clean).expect("base64");
                        let digest = Sha256::digest(&bytes);
                        println!(
                            "{}",
                            digest
                                .iter()
                                .map(|b| format!("{b:02x}"))
                                .collect::<String>()
                        );
                    }
                }
            }
            _ => {}
        }
        buf.clear();
    }
}
