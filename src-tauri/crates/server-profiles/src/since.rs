//! `_since` values: checking that a value is a FHIR instant and writing it the way a server wants.
//!
//! A FHIR instant is `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`: seconds and a zone are required, which
//! is stricter than RFC 3339's grammar in case (`T` and `Z` upper-case only). The shape is checked here
//! and the calendar (no 30 February) by the `time` crate.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ProfileError;
use crate::profile::SinceFormat;

/// Checks `instant` and rewrites its zone for `format`. The fraction, if any, is kept as written, because
/// dropping digits would move the instant and adding them says nothing new.
pub(crate) fn format(format: SinceFormat, instant: &str) -> Result<String, ProfileError> {
    let instant = instant.trim();
    check_instant(instant)?;
    Ok(match format {
        SinceFormat::UtcZ => instant.to_string(),
        SinceFormat::Offset => match instant.strip_suffix('Z') {
            Some(local) => format!("{local}+00:00"),
            None => instant.to_string(),
        },
    })
}

fn check_instant(value: &str) -> Result<(), ProfileError> {
    let refuse = || ProfileError::NotAnInstant { value: value.to_string() };
    let bytes = value.as_bytes();
    // Date and time up to the seconds: fixed positions.
    let digits_at = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
    let fixed_shape = digits_at(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits_at(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits_at(8..10)
        && bytes.get(10) == Some(&b'T')
        && digits_at(11..13)
        && bytes.get(13) == Some(&b':')
        && digits_at(14..16)
        && bytes.get(16) == Some(&b':')
        && digits_at(17..19);
    if !fixed_shape {
        return Err(refuse());
    }
    let mut rest = &value[19..];
    if let Some(after_dot) = rest.strip_prefix('.') {
        let fraction_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=9).contains(&fraction_len) {
            return Err(refuse());
        }
        rest = &after_dot[fraction_len..];
    }
    if rest != "Z" && !is_fhir_offset(rest) {
        return Err(refuse());
    }
    OffsetDateTime::parse(value, &Rfc3339).map(|_| ()).map_err(|_| refuse())
}

/// `±hh:mm` within FHIR's range, -14:00 to +14:00.
fn is_fhir_offset(zone: &str) -> bool {
    let bytes = zone.as_bytes();
    if bytes.len() != 6 || !matches!(bytes[0], b'+' | b'-') || bytes[3] != b':' {
        return false;
    }
    let two_digits = |at: usize| {
        let (tens, ones) = (bytes[at], bytes[at + 1]);
        (tens.is_ascii_digit() && ones.is_ascii_digit()).then(|| u32::from(tens - b'0') * 10 + u32::from(ones - b'0'))
    };
    match (two_digits(1), two_digits(4)) {
        (Some(hours), Some(minutes)) => minutes < 60 && (hours < 14 || (hours == 14 && minutes == 0)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_within_fhir_range_pass_and_others_fail() {
        for good in ["+00:00", "-05:00", "+13:59", "+14:00", "-14:00"] {
            assert!(is_fhir_offset(good), "{good}");
        }
        for bad in ["+14:01", "+15:00", "+05:60", "05:00", "+0500", "+5:00", "Z"] {
            assert!(!is_fhir_offset(bad), "{bad}");
        }
    }

    #[test]
    fn instants_need_seconds_a_zone_and_a_real_date() {
        for good in ["2026-01-01T00:00:00Z", "2020-02-29T12:00:00.000-05:00", "2026-07-01T08:00:00.123456789+14:00"] {
            assert!(check_instant(good).is_ok(), "{good}");
        }
        for bad in [
            "2026-01-01",
            "2026-01-01T00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01t00:00:00z",
            "2026-01-01 00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.1234567890Z",
            "2026-01-01T24:00:00Z",
            "",
        ] {
            assert!(check_instant(bad).is_err(), "{bad}");
        }
    }
}
