//! FHIR dates, dateTimes and times with their precision: `1970-06` is a month, not June the first. Comparing
//! values of different precision is "unknown" (FHIRPath §6.1), and `lowBoundary()`/`highBoundary()` fill
//! what is missing.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalKind {
    Date,
    DateTime,
    Time,
}

/// Parts as written; `precision` counts the parts given (year=1 … millisecond=7 for dates and dateTimes,
/// hour=1 … millisecond=4 for times).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Temporal {
    pub kind: TemporalKind,
    pub parts: [u32; 7],
    pub precision: u8,
    /// Minutes east of UTC, when given.
    pub offset: Option<i32>,
}

fn number(s: &str, len: usize) -> Option<(u32, &str)> {
    let head = s.get(..len)?;
    head.bytes().all(|b| b.is_ascii_digit()).then(|| (head.parse().ok(), &s[len..])).and_then(|(v, r)| Some((v?, r)))
}

/// `HH[:MM[:SS[.fff]]]` into parts[3..7]; the rest of the text.
fn time_parts<'s>(mut s: &'s str, parts: &mut [u32; 7], precision: &mut u8, at: usize) -> Option<&'s str> {
    let (h, rest) = number(s, 2)?;
    parts[at] = h;
    *precision += 1;
    s = rest;
    for i in 1..3 {
        let Some(rest) = s.strip_prefix(':') else { break };
        let (v, rest) = number(rest, 2)?;
        parts[at + i] = v;
        *precision += 1;
        s = rest;
    }
    if *precision as usize == at + 3
        && let Some(rest) = s.strip_prefix('.')
    {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut ms = rest[..digits.min(3)].to_string();
        while ms.len() < 3 {
            ms.push('0');
        }
        parts[at + 3] = ms.parse().ok()?;
        *precision += 1;
        s = &rest[digits..];
    }
    Some(s)
}

impl Temporal {
    pub fn parse(text: &str, kind: TemporalKind) -> Option<Temporal> {
        let mut parts = [0u32, 1, 1, 0, 0, 0, 0];
        let mut precision = 0u8;
        let mut offset = None;
        let mut s = text;
        if kind == TemporalKind::Time {
            parts = [0; 7];
            s = time_parts(s, &mut parts, &mut precision, 0)?;
            return s.is_empty().then_some(Temporal { kind, parts, precision, offset });
        }
        let (y, rest) = number(s, 4)?;
        parts[0] = y;
        precision = 1;
        s = rest;
        for part in &mut parts[1..3] {
            let Some(rest) = s.strip_prefix('-') else { break };
            let (v, rest) = number(rest, 2)?;
            *part = v;
            precision += 1;
            s = rest;
        }
        if let Some(rest) = s.strip_prefix('T') {
            if precision != 3 {
                return None;
            }
            s = time_parts(rest, &mut parts, &mut precision, 3)?;
        }
        if !s.is_empty() {
            if precision < 4 {
                return None;
            }
            offset = Some(if s == "Z" {
                0
            } else {
                let sign = match s.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let (h, rest) = number(&s[1..], 2)?;
                let (m, rest) = number(rest.strip_prefix(':')?, 2)?;
                if !rest.is_empty() {
                    return None;
                }
                sign * (h as i32 * 60 + m as i32)
            });
        }
        let kind = if precision > 3 { TemporalKind::DateTime } else { kind };
        let valid = (1..=12).contains(&parts[1]) && parts[2] >= 1 && parts[2] <= days_in_month(parts[0], parts[1]);
        valid.then_some(Temporal { kind, parts, precision, offset })
    }

    /// Whether the value is a whole calendar date (what a Parquet or Excel date holds).
    pub fn is_full_date(&self) -> bool {
        self.kind == TemporalKind::Date && self.precision == 3
    }

    /// Days since 1970-01-01 of the date part.
    pub fn days(&self) -> i64 {
        days_from_civil(self.parts[0] as i64, self.parts[1], self.parts[2])
    }

    /// Milliseconds since the epoch in UTC (a missing offset counts as UTC).
    pub fn epoch_millis(&self) -> i64 {
        let seconds =
            self.days() * 86_400 + self.parts[3] as i64 * 3600 + self.parts[4] as i64 * 60 + self.parts[5] as i64
                - self.offset.unwrap_or(0) as i64 * 60;
        seconds * 1000 + self.parts[6] as i64
    }

    /// FHIRPath `lowBoundary()` / `highBoundary()`: the earliest / latest instant the value may mean, at
    /// millisecond precision (dates stay dates; an unknown offset is +14:00 low, -12:00 high).
    pub fn boundary(&self, high: bool) -> Temporal {
        let mut t = *self;
        if self.kind == TemporalKind::Time {
            // Times: hour, minute, second, millisecond in parts[0..4].
            for i in self.precision as usize..4 {
                t.parts[i] = if high { [23, 59, 59, 999][i] } else { 0 };
            }
            t.precision = 4;
            return t;
        }
        let full = if self.kind == TemporalKind::Date { 3 } else { 7 };
        for i in self.precision as usize..full {
            t.parts[i] = match (i, high) {
                (1 | 2, false) => 1,
                (1, true) => 12,
                (2, true) => days_in_month(t.parts[0], t.parts[1]),
                (3, true) => 23,
                (4 | 5, true) => 59,
                (6, true) => 999,
                _ => 0,
            };
        }
        t.precision = full as u8;
        if self.kind == TemporalKind::DateTime && t.offset.is_none() {
            t.offset = Some(if high { -12 * 60 } else { 14 * 60 });
        }
        t
    }

    /// FHIRPath comparison: None ("unknown") when the precisions differ or only one side has an offset.
    pub fn compare(&self, other: &Temporal) -> Option<Ordering> {
        if (self.kind == TemporalKind::Time) != (other.kind == TemporalKind::Time) {
            return None;
        }
        if self.kind == TemporalKind::Time {
            return (self.precision == other.precision).then(|| self.parts[..4].cmp(&other.parts[..4]));
        }
        if self.precision != other.precision {
            // Seconds and milliseconds are one precision in FHIRPath.
            let seconds = |p: u8| if p == 7 { 6 } else { p };
            if seconds(self.precision) != seconds(other.precision) {
                return None;
            }
        }
        if self.precision > 3 {
            if self.offset.is_some() != other.offset.is_some() {
                return None;
            }
            return Some(self.epoch_millis().cmp(&other.epoch_millis()));
        }
        Some(self.parts[..self.precision as usize].cmp(&other.parts[..other.precision as usize]))
    }
}

impl std::fmt::Display for Temporal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.parts;
        if self.kind == TemporalKind::Time {
            write!(f, "{:02}", p[0])?;
            for (i, part) in p[1..3].iter().enumerate() {
                if self.precision as usize > i + 1 {
                    write!(f, ":{part:02}")?;
                }
            }
            if self.precision == 4 {
                write!(f, ".{:03}", p[3])?;
            }
            return Ok(());
        }
        write!(f, "{:04}", p[0])?;
        if self.precision >= 2 {
            write!(f, "-{:02}", p[1])?;
        }
        if self.precision >= 3 {
            write!(f, "-{:02}", p[2])?;
        }
        if self.precision >= 4 {
            write!(f, "T{:02}", p[3])?;
            for (i, part) in p.iter().enumerate().take(6).skip(4) {
                if self.precision as usize > i {
                    write!(f, ":{part:02}")?;
                }
            }
            if self.precision == 7 {
                write!(f, ".{:03}", p[6])?;
            }
            match self.offset {
                Some(0) => f.write_str("Z")?,
                Some(m) => write!(f, "{}{:02}:{:02}", if m < 0 { '-' } else { '+' }, m.abs() / 60, m.abs() % 60)?,
                None => {}
            }
        }
        Ok(())
    }
}

pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Howard Hinnant's days_from_civil.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::{Temporal, TemporalKind::*};

    fn t(s: &str, k: super::TemporalKind) -> Temporal {
        Temporal::parse(s, k).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn boundaries_fill_what_is_missing() {
        assert_eq!(t("1970-06", Date).boundary(false).to_string(), "1970-06-01");
        assert_eq!(t("1970-06", Date).boundary(true).to_string(), "1970-06-30");
        assert_eq!(t("2012", Date).boundary(true).to_string(), "2012-12-31");
        assert_eq!(t("2010-10-10", DateTime).boundary(false).to_string(), "2010-10-10T00:00:00.000+14:00");
        assert_eq!(t("2010-10-10", DateTime).boundary(true).to_string(), "2010-10-10T23:59:59.999-12:00");
        assert_eq!(t("12:34:00", Time).boundary(false).to_string(), "12:34:00.000");
        assert_eq!(t("12:34", Time).boundary(true).to_string(), "12:34:59.999");
        assert_eq!(t("2015-02-07T13:28:17.239+02:00", DateTime).to_string(), "2015-02-07T13:28:17.239+02:00");
    }

    #[test]
    fn comparisons_know_precision_and_zones() {
        let a = t("2015-02-07T13:28:17.239+02:00", DateTime);
        let b = t("2015-02-07T11:28:17.239Z", DateTime);
        assert_eq!(a.compare(&b), Some(std::cmp::Ordering::Equal));
        assert_eq!(t("2016-11-12", DateTime).compare(&t("2016-11-12T10:00:00Z", DateTime)), None);
        assert!(t("1978-03-12", Date).compare(&t("1941-09-09", Date)).unwrap().is_gt());
        assert!(Temporal::parse("2020-13-01", Date).is_none());
        assert!(Temporal::parse("2020-02-30", Date).is_none());
        assert_eq!(t("1970-01-02", Date).days(), 1);
    }
}
