//! Sizes and durations in words, for the runner's messages and the command line's tables, and the sentence
//! that ends an export.

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

/// `25,092`: thousands separated, as the window shows counts.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 resource`, `12 resources`, `25,092 resources`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{} {noun}s", thousands(n)) }
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
        assert_eq!(count(25_092, "resource"), "25,092 resources");
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1_000), "1,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(duration(Duration::from_secs(36_000)), "10.0 hours");
        assert_eq!(duration(Duration::from_secs(300)), "5 minutes");
    }
}

/// What an export brought.
pub struct Arrived {
    pub resources: u64,
    pub files: u32,
    pub bytes: u64,
    /// Resources the server reported deleted (`deleted[]`).
    pub deletions: u64,
}

/// The sentence that ends a completed export (`problems`: it completed with these). Deletions are said when
/// there are some, and an export of only deletions says so instead of "0 resources in 0 files".
pub fn completion(a: &Arrived, problems: Option<&[String]>) -> String {
    let deleted = match a.deletions {
        0 => String::new(),
        1 => " The server reported 1 resource deleted since then (listed in deleted/).".to_string(),
        n => format!(" The server reported {} resources deleted since then (listed in deleted/).", thousands(n)),
    };
    match problems {
        Some(problems) => format!(
            "Export finished with problems: {} in {} ({}).{deleted} {}",
            count(a.resources, "resource"),
            count(u64::from(a.files), "file"),
            bytes(a.bytes),
            problems.join(" ")
        ),
        None if a.resources == 0 && a.deletions > 0 => {
            format!("Export complete: nothing was added or changed since then.{deleted}")
        }
        None => format!(
            "Export complete: {} in {} ({}), all verified.{deleted}",
            count(a.resources, "resource"),
            count(u64::from(a.files), "file"),
            bytes(a.bytes)
        ),
    }
}

#[cfg(test)]
mod completion_tests {
    use super::{Arrived, completion};

    #[test]
    fn an_export_of_only_deletions_says_so() {
        let only = Arrived { resources: 0, files: 0, bytes: 0, deletions: 12 };
        assert_eq!(
            completion(&only, None),
            "Export complete: nothing was added or changed since then. The server reported 12 resources deleted \
             since then (listed in deleted/)."
        );
        let both = Arrived { resources: 1, files: 1, bytes: 2000, deletions: 1 };
        assert_eq!(
            completion(&both, None),
            "Export complete: 1 resource in 1 file (2.0 KB), all verified. The server reported 1 resource deleted \
             since then (listed in deleted/)."
        );
        let problems = ["1 file failed.".to_string()];
        let with = completion(&Arrived { resources: 5, files: 2, bytes: 10, deletions: 3 }, Some(&problems));
        assert_eq!(
            with,
            "Export finished with problems: 5 resources in 2 files (10 bytes). The server reported 3 resources \
             deleted since then (listed in deleted/). 1 file failed."
        );
        assert_eq!(
            completion(&Arrived { resources: 0, files: 0, bytes: 0, deletions: 0 }, None),
            "Export complete: 0 resources in 0 files (0 bytes), all verified."
        );
    }
}
