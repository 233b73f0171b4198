//! Exact decimals as FHIR writes them: the digits and the number of places after the point. Binary floats
//! would turn 0.1 + 0.2 into 0.30000000000000004 and lose the precision that `lowBoundary()` and the Parquet
//! column keep; FHIR caps decimals at 18 significant digits, well inside an i128.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    pub digits: i128,
    /// Places after the point.
    pub scale: u32,
}

/// Places a division keeps (FHIRPath leaves it to the engine; eight is what the reference implementations show).
const DIVISION_PLACES: u32 = 8;
const MAX_SCALE: u32 = 30;

impl Decimal {
    pub fn from_int(v: i64) -> Decimal {
        Decimal { digits: v as i128, scale: 0 }
    }

    /// A JSON or FHIRPath number as written (`-1.50`, `2e3`); None when it does not fit.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (negative, mantissa) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut digits: i128 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            digits = digits.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        let mut scale = fraction.len() as i64 - i64::from(exponent);
        while scale < 0 {
            digits = digits.checked_mul(10)?;
            scale += 1;
        }
        if scale > i64::from(MAX_SCALE) {
            return None;
        }
        Some(Decimal { digits: if negative { -digits } else { digits }, scale: scale as u32 })
    }

    fn rescaled(self, scale: u32) -> Option<i128> {
        self.digits.checked_mul(10i128.checked_pow(scale.checked_sub(self.scale)?)?)
    }

    fn aligned(self, other: Decimal) -> Option<(i128, i128, u32)> {
        let scale = self.scale.max(other.scale);
        Some((self.rescaled(scale)?, other.rescaled(scale)?, scale))
    }

    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Decimal { digits: a.checked_add(b)?, scale })
    }

    pub fn checked_sub(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Decimal { digits: a.checked_sub(b)?, scale })
    }

    pub fn checked_mul(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale + other.scale;
        (scale <= MAX_SCALE).then_some(())?;
        Some(Decimal { digits: self.digits.checked_mul(other.digits)?, scale })
    }

    /// None when dividing by zero (FHIRPath: empty) or out of range.
    pub fn checked_div(self, other: Decimal) -> Option<Decimal> {
        if other.digits == 0 {
            return None;
        }
        // a/10^s / (b/10^t) = (a * 10^(t + p)) / b / 10^(s + p)... kept simple: scale both to the same places.
        let (a, b, _) = self.aligned(other)?;
        let quotient = a.checked_mul(10i128.pow(DIVISION_PLACES))? / b;
        Some(Decimal { digits: quotient, scale: DIVISION_PLACES }.trimmed())
    }

    /// Without trailing zeros after the point.
    pub fn trimmed(mut self) -> Decimal {
        while self.scale > 0 && self.digits % 10 == 0 {
            self.digits /= 10;
            self.scale -= 1;
        }
        self
    }

    /// The value at `scale` places, rounded half away from zero (None if it does not fit an i128).
    pub fn at_scale(self, scale: u32) -> Option<i128> {
        if scale >= self.scale {
            return self.rescaled(scale);
        }
        let divisor = 10i128.pow(self.scale - scale);
        let (q, r) = (self.digits / divisor, self.digits % divisor);
        Some(if r.abs() * 2 >= divisor { q + r.signum() } else { q })
    }

    /// The lowest / highest value that rounds to this one at its precision (FHIRPath `lowBoundary()`).
    pub fn boundary(self, high: bool) -> Option<Decimal> {
        let half = Decimal { digits: 5, scale: self.scale + 1 };
        if high { self.checked_add(half) } else { self.checked_sub(half) }
    }

    pub fn as_i64(self) -> Option<i64> {
        if self.scale == 0 { i64::try_from(self.digits).ok() } else { None }
    }

    pub fn to_f64(self) -> f64 {
        self.to_string().parse().unwrap_or(f64::NAN)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.partial_cmp(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        let (a, b, _) = self.aligned(*other)?;
        Some(a.cmp(&b))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.digits < 0 { "-" } else { "" };
        let abs = self.digits.unsigned_abs().to_string();
        if self.scale == 0 {
            return write!(f, "{sign}{abs}");
        }
        let scale = self.scale as usize;
        let padded = format!("{abs:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::Decimal;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_as_written() {
        for s in ["1.0", "-0.05", "12", "0.000", "123456789012345678.5"] {
            assert_eq!(d(s).to_string(), s);
        }
        assert_eq!(d("2e3").to_string(), "2000");
        assert_eq!(d("1.5E-3").to_string(), "0.0015");
        assert!(Decimal::parse("1.").is_none() || d("1.").to_string() == "1");
        assert!(Decimal::parse("abc").is_none());
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(d("0.1").checked_add(d("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(d("3").checked_div(d("2")).unwrap().to_string(), "1.5");
        assert_eq!(d("1").checked_div(d("3")).unwrap().to_string(), "0.33333333");
        assert!(d("1").checked_div(d("0")).is_none());
        assert_eq!(d("1.0").boundary(false).unwrap().to_string(), "0.95");
        assert_eq!(d("1.0").boundary(true).unwrap().to_string(), "1.05");
        assert_eq!(d("2.345").at_scale(2), Some(235));
        assert_eq!(d("-2.345").at_scale(2), Some(-235));
        assert!(d("1.50") == d("1.5"));
        assert!(d("-1") < d("0.5"));
    }
}
