//! SMS Backup & Restore backups, written in the app's real format (prolog,
//! comment, stylesheet, `<sms>` beside `<mms>`, SMIL parts, `null` values).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

pub const PROLOG: &str = "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n\
<!--File Created By SMS Backup & Restore v10.20.002 on 23/11/2026 10:00:00-->\n\
<?xml-stylesheet type=\"text/xsl\" href=\"sms.xsl\"?>\n";

/// A whole backup around `messages`, with an SMS first as real ones have.
pub fn backup(messages: &[String]) -> Vec<u8> {
    let mut xml = String::from(PROLOG);
    xml.push_str(&format!(
        "<smses count=\"{}\" backup_set=\"97e66a20\" backup_date=\"1764000000000\" type=\"full\">\n",
        messages.len() + 1
    ));
    xml.push_str("  <sms protocol=\"0\" address=\"+15555550100\" date=\"1700000000000\" type=\"1\" subject=\"null\" body=\"Tom &amp; Jerry &lt;3 &#55357;&#56832;\" toa=\"null\" read=\"1\" status=\"-1\" locked=\"0\" readable_date=\"Nov 14, 2023\" contact_name=\"(Unknown)\" />\n");
    for m in messages {
        xml.push_str(m);
    }
    xml.push_str("</smses>\n");
    xml.into_bytes()
}

/// An `<mms>` with a SMIL part first, then `parts`, then its `<addrs>`.
pub fn mms(date: u64, address: &str, parts: &[String]) -> String {
    let mut xml = format!(
        "  <mms text_only=\"0\" sub=\"null\" date=\"{date}\" ct_t=\"application/vnd.wap.multipart.related\" msg_box=\"1\" address=\"{address}\" m_id=\"mid-{date}\" read=\"1\" readable_date=\"Nov 23, 2026\" contact_name=\"(Unknown)\">\n    <parts>\n"
    );
    xml.push_str("      <part seq=\"-1\" ct=\"application/smil\" name=\"null\" chset=\"null\" cd=\"null\" fn=\"null\" cid=\"&lt;smil&gt;\" cl=\"smil.xml\" ctt_s=\"null\" ctt_t=\"null\" text='&lt;smil&gt;&lt;body&gt;&lt;par dur=\"5000ms\"&gt;&lt;img src=\"a.jpg\" region=\"Image\" /&gt;&lt;/par&gt;&lt;/body&gt;&lt;/smil&gt;&#10;' />\n");
    for p in parts {
        xml.push_str("      ");
        xml.push_str(p);
        xml.push('\n');
    }
    xml.push_str(&format!(
        "    </parts>\n    <addrs>\n      <addr address=\"{address}\" type=\"137\" charset=\"106\" />\n    </addrs>\n  </mms>\n"
    ));
    xml
}

/// A binary part as the app writes it: name attributes, then `data` last.
pub fn part(ct: &str, name: &str, bytes: &[u8]) -> String {
    format!(
        "<part seq=\"0\" ct=\"{ct}\" name=\"{name}\" chset=\"null\" cd=\"null\" fn=\"null\" cid=\"&lt;{name}&gt;\" cl=\"{name}\" ctt_s=\"null\" ctt_t=\"null\" text=\"null\" data=\"{}\" />",
        BASE64.encode(bytes)
    )
}
