//! One structured JSON line per event on stdout, like the original shop's logrus output.
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

fn now_rfc3339_millis() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, millis) = (d.as_secs() as i64, d.subsec_millis());
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, dd) = civil_from_days(days);
    format!("{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The current UTC time as RFC 3339 with milliseconds.
pub fn now() -> String {
    now_rfc3339_millis()
}

/// What ties a log line to its request: the ids every line written during a request carries.
#[derive(Debug, Clone, Copy)]
pub struct LineContext<'a> {
    /// `x-request-id`: the same on every service's lines of one shopper action.
    pub request_id: &'a str,
    /// The W3C trace id (32 hex digits) the request belongs to.
    pub trace_id: &'a str,
    /// The caller's span (`parent-id` of the incoming `traceparent`), when one came in.
    pub parent_span_id: Option<&'a str>,
}

/// One log line as JSON: `time`, `level`, `msg`, then (inside a request) `trace_id`,
/// `request_id` and `parent_span_id`, then `fields` (which win on a clash).
pub fn build(time: &str, level: &str, msg: &str, context: Option<LineContext<'_>>, fields: Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("time".into(), json!(time));
    out.insert("level".into(), json!(level));
    out.insert("msg".into(), json!(msg));
    if let Some(c) = context {
        out.insert("trace_id".into(), json!(c.trace_id));
        out.insert("request_id".into(), json!(c.request_id));
        if let Some(parent) = c.parent_span_id {
            out.insert("parent_span_id".into(), json!(parent));
        }
    }
    out.extend(fields);
    Value::Object(out)
}

/// The text of [`build`]'s line (what its `Display` writes), written straight from the parts:
/// a `serde_json::Map` keeps its keys in byte order (serde_json's `preserve_order` is off; the
/// `rendered_lines_are_the_built_ones` test fails if it is ever turned on), so the line's own
/// keys are merged into `fields` in that order, and left out where `fields` has the same key,
/// without building the object.
pub fn render(time: &str, level: &str, msg: &str, context: Option<LineContext<'_>>, fields: &Map<String, Value>) -> String {
    let (trace_id, request_id, parent) = match context {
        Some(c) => (Some(c.trace_id), Some(c.request_id), c.parent_span_id),
        None => (None, None, None),
    };
    // The line's own keys, in byte order.
    let own = [
        ("level", Some(level)),
        ("msg", Some(msg)),
        ("parent_span_id", parent),
        ("request_id", request_id),
        ("time", Some(time)),
        ("trace_id", trace_id),
    ];
    let mut out = String::with_capacity(384);
    out.push('{');
    let mut next_own = 0;
    for (key, value) in fields {
        while let Some(&(own_key, own_value)) = own.get(next_own) {
            if own_key > key.as_str() {
                break;
            }
            // An own key equal to a field's is left out: the field wins.
            if let (true, Some(v)) = (own_key < key.as_str(), own_value) {
                push_key(&mut out, own_key);
                push_json_str(&mut out, v);
            }
            next_own += 1;
        }
        push_key(&mut out, key);
        // `Value`'s own `Display`, as `build`'s line uses (writing to a String can't fail).
        let _ = write!(out, "{value}");
    }
    for &(own_key, own_value) in own.get(next_own..).unwrap_or_default() {
        if let Some(v) = own_value {
            push_key(&mut out, own_key);
            push_json_str(&mut out, v);
        }
    }
    out.push('}');
    out
}

/// `"key":`, after a comma unless it is the object's first.
fn push_key(out: &mut String, key: &str) {
    if out.len() > 1 {
        out.push(',');
    }
    push_json_str(out, key);
    out.push(':');
}

/// `s` as a JSON string, escaped exactly as serde_json does: `"`, `\\`, and the control
/// characters (`\b \t \n \f \r` short, the others as `\u00xx`); everything else as is.
fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            b'\t' => b't',
            b'\n' => b'n',
            0x0c => b'f',
            b'\r' => b'r',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        // Every escaped byte is ASCII, so `plain..i` lies on character boundaries.
        out.push_str(s.get(plain..i).unwrap_or_default());
        out.push('\\');
        out.push(char::from(short));
        if short == b'u' {
            out.push_str("00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        plain = i + 1;
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

/// Writes one log line: `level`, `msg`, the time, the current request's ids and any extra fields.
///
/// The same bytes as `println!("{}", build(..))`, in one write ([`render`]); a failed write
/// panics as `println!` does.
pub fn line(level: &str, msg: &str, fields: Map<String, Value>) {
    let time = now_rfc3339_millis();
    let mut text = crate::serve::with_line_context(|context| render(&time, level, msg, context, &fields));
    text.push('\n');
    if let Err(e) = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        panic!("failed printing to stdout: {e}");
    }
}

pub fn info(msg: &str) {
    line("info", msg, Map::new());
}

pub fn error(msg: &str) {
    line("error", msg, Map::new());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_in_a_request_names_its_trace_and_request() {
        let mut fields = Map::new();
        fields.insert("service".into(), json!("carts"));
        fields.insert("status".into(), json!(200));
        let context = LineContext {
            request_id: "req-1",
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
            parent_span_id: Some("00f067aa0ba902b7"),
        };
        let line = build("2026-01-01T00:00:00.000Z", "info", "request", Some(context), fields);
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["parent_span_id"], "00f067aa0ba902b7");
        assert_eq!((line["msg"].as_str(), line["service"].as_str(), line["status"].as_u64()), (Some("request"), Some("carts"), Some(200)));
        // One line of JSON: nothing in it can break the line.
        assert!(!line.to_string().contains('\n'));
    }

    #[test]
    fn a_line_outside_a_request_has_no_ids_and_fields_win() {
        let line = build("t", "error", "boot", None, Map::new());
        assert!(line.get("trace_id").is_none() && line.get("request_id").is_none(), "{line}");
        let context = LineContext { request_id: "r", trace_id: "t", parent_span_id: None };
        let mut fields = Map::new();
        fields.insert("request_id".into(), json!("explicit"));
        let line = build("t", "info", "m", Some(context), fields);
        assert_eq!((line["request_id"].as_str(), line.get("parent_span_id")), (Some("explicit"), None));
    }

    #[test]
    fn outside_a_request_lines_carry_no_ids() {
        // Native tests run outside any request: the thread-local holds no trace.
        let line = crate::serve::with_line_context(|c| build("t", "info", "m", c, Map::new()));
        assert!(line.get("trace_id").is_none(), "{line}");
    }

    #[test]
    fn rendered_lines_are_the_built_ones() {
        let context = LineContext { request_id: "req \"1\"\u{1}\\", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", parent_span_id: Some("00f067aa0ba902b7") };
        let no_parent = LineContext { parent_span_id: None, ..context };
        let mut fields = Map::new();
        fields.insert("service".into(), json!("frontend"));
        fields.insert("status".into(), json!(200));
        fields.insert("duration_ms".into(), json!(0.123_456_789));
        fields.insert("upstream_ms".into(), json!(u128::from(7u32)));
        fields.insert("path".into(), json!("/static/x\u{7f}\n\u{e9}"));
        fields.insert("message".into(), json!("\"q\" \\ \u{0}\u{8}\t\u{b}\u{c}\r\u{1f} \u{2028} é/"));
        fields.insert("error".into(), json!({"nested": [1, null, "two"]}));
        let mut clashing = fields.clone();
        clashing.insert("request_id".into(), json!("explicit"));
        clashing.insert("time".into(), json!(12));
        clashing.insert("zzz".into(), json!(f64::NAN));
        clashing.insert("a".into(), json!(false));
        for context in [None, Some(context), Some(no_parent)] {
            for fields in [Map::new(), fields.clone(), clashing.clone()] {
                let built = build("2026-01-01T00:00:00.000Z", "info", "request", context, fields.clone()).to_string();
                let rendered = render("2026-01-01T00:00:00.000Z", "info", "request", context, &fields);
                assert_eq!(rendered, built);
            }
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
