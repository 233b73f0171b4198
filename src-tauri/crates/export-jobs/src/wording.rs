//! Sizes and durations in words, for the runner's messages and the command line's tables.

/// `999 bytes`, `1.5 MB` (decimal units, as file managers show them).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} bytes") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// `1 resource`, `12 resources`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `3.5 s`, `5 minutes`, `10.0 hours`, `2.0 days` (bulk-client's formatter: its errors name limits too).
pub use bulk_client::text::duration_words as duration;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(bytes(999), "999 bytes");
        assert_eq!(count(1, "new member"), "1 new member");
        assert_eq!(count(12, "resource"), "12 resources");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(duration(Duration::from_secs(36_000)), "10.0 hours");
        assert_eq!(duration(Duration::from_secs(300)), "5 minutes");
    }
}
