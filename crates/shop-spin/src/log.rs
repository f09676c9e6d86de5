//! One structured JSON line per event on stdout, like the original shop's logrus output.
use serde_json::{json, Map, Value};
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

/// Writes one log line: `level`, `msg`, the time and any extra fields.
pub fn line(level: &str, msg: &str, fields: Map<String, Value>) {
    let mut out = Map::new();
    out.insert("time".into(), json!(now_rfc3339_millis()));
    out.insert("level".into(), json!(level));
    out.insert("msg".into(), json!(msg));
    out.extend(fields);
    println!("{}", Value::Object(out));
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
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
