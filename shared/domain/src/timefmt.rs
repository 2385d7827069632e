//! Time helpers: Meta speaks in Unix milliseconds, the API in RFC 3339.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let now = OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// RFC 3339 in UTC with exactly three fractional digits, so that the strings sort as the
/// instants do.
const RFC3339_MS: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// RFC 3339 (UTC, millisecond precision) for a Unix-millisecond instant.
pub fn rfc3339_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(RFC3339_MS).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Parses an RFC 3339 instant into Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Parses Meta's feed `created_time`, which is either Unix seconds or an ISO 8601 string
/// such as `2026-05-01T10:00:00+0000`.
pub fn parse_meta_time(v: &serde_json::Value) -> Option<i64> {
    match v {
        // Seconds far in the past would overflow as milliseconds: not a time, like any text.
        serde_json::Value::Number(n) => {
            n.as_i64().and_then(|s| if s < 100_000_000_000 { s.checked_mul(1000) } else { Some(s) })
        }
        serde_json::Value::String(s) => parse_rfc3339_ms(s).or_else(|| {
            // `+0000` offsets are not RFC 3339; insert the colon. The split is by bytes, so
            // text whose last two characters are not ASCII is no time (and no panic).
            let at = s.len().checked_sub(2).filter(|_| s.len() > 5 && s.is_char_boundary(s.len() - 2))?;
            let (head, tail) = s.split_at(at);
            parse_rfc3339_ms(&format!("{head}:{tail}"))
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let ms = 1_764_000_000_123;
        let s = rfc3339_ms(ms);
        assert_eq!(s, "2025-11-24T16:00:00.123Z");
        assert_eq!(parse_rfc3339_ms(&s), Some(ms));
        assert_eq!(rfc3339_ms(1_764_000_000_100), "2025-11-24T16:00:00.100Z");
        assert_eq!(rfc3339_ms(10_000), "1970-01-01T00:00:10.000Z");
    }

    #[test]
    fn meta_feed_times() {
        assert_eq!(parse_meta_time(&serde_json::json!(1_764_000_000)), Some(1_764_000_000_000));
        assert_eq!(parse_meta_time(&serde_json::json!("2025-11-24T16:00:00+0000")), Some(1_764_000_000_000));
        assert_eq!(parse_meta_time(&serde_json::json!("nonsense")), None);
        // Found by the property tests: these panicked (a split inside a character; seconds
        // overflowing as milliseconds).
        assert_eq!(parse_meta_time(&serde_json::json!("2025-11-24T16:00:00+00¡𐀀")), None);
        assert_eq!(parse_meta_time(&serde_json::json!("¡𐀀")), None);
        assert_eq!(parse_meta_time(&serde_json::json!(i64::MIN)), None);
    }
}
