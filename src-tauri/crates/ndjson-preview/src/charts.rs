//! The counts behind the charts: resources per type, top codes, Patient gender and age, resources per month.
//! One streaming pass over every file (two threads), reading only the elements the charts use. A line counts
//! when it is a resource of its file's type by the one line rule (`fhir_ndjson::check_line`), the same lines
//! export verification kept and Convert writes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::error::PreviewError;
use crate::folder::PreviewFolder;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LabelCount {
    pub label: String,
    #[ts(type = "number")]
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CodeCount {
    pub system: String,
    pub code: String,
    pub display: String,
    #[ts(type = "number")]
    pub count: u64,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ChartProgress {
    #[ts(type = "number")]
    pub bytes_read: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Charts {
    /// Resources per type (valid lines), largest first.
    pub per_type: Vec<LabelCount>,
    /// The 20 most frequent codes (system + code), most frequent first.
    pub observation_codes: Vec<CodeCount>,
    pub condition_codes: Vec<CodeCount>,
    pub gender: Vec<LabelCount>,
    /// Ten-year bands ("0–9" … "90+"), then "Unknown" for patients without a usable birth date.
    pub age: Vec<LabelCount>,
    /// The date ages are counted to (the export's transactionTime, else today); the deceased's age is at death.
    pub age_as_of: String,
    /// "YYYY-MM" → resources, in month order: `meta.lastUpdated`, else the type's main date.
    pub per_month: Vec<LabelCount>,
    /// Resources with no date the month chart could use.
    #[ts(type = "number")]
    pub undated: u64,
    /// Lines that are not resources (not JSON, blank): left out of every chart.
    #[ts(type = "number")]
    pub invalid_lines: u64,
}

/// Only the elements the charts read; serde skips the rest of each line without building it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Slim {
    meta: Option<Value>,
    code: Option<Value>,
    gender: Option<Value>,
    birth_date: Option<Value>,
    deceased_date_time: Option<Value>,
    effective_date_time: Option<Value>,
    effective_period: Option<Value>,
    effective_instant: Option<Value>,
    onset_date_time: Option<Value>,
    onset_period: Option<Value>,
    recorded_date: Option<Value>,
    period: Option<Value>,
    authored_on: Option<Value>,
    billable_period: Option<Value>,
    performed_date_time: Option<Value>,
    performed_period: Option<Value>,
    occurrence_date_time: Option<Value>,
    issued: Option<Value>,
    created: Option<Value>,
    started: Option<Value>,
    date: Option<Value>,
}

impl Slim {
    /// The date a month chart counts: when the server last changed it, else when it happened.
    fn month(&self) -> Option<&str> {
        fn s(v: &Option<Value>) -> Option<&str> {
            v.as_ref().and_then(Value::as_str)
        }
        fn start(v: &Option<Value>) -> Option<&str> {
            v.as_ref().and_then(|p| p["start"].as_str())
        }
        let chosen = self.meta.as_ref().and_then(|m| m["lastUpdated"].as_str()).or_else(|| {
            s(&self.effective_date_time)
                .or_else(|| start(&self.effective_period))
                .or_else(|| s(&self.effective_instant))
                .or_else(|| s(&self.onset_date_time))
                .or_else(|| start(&self.onset_period))
                .or_else(|| start(&self.period))
                .or_else(|| s(&self.authored_on))
                .or_else(|| start(&self.billable_period))
                .or_else(|| s(&self.performed_date_time))
                .or_else(|| start(&self.performed_period))
                .or_else(|| s(&self.occurrence_date_time))
                .or_else(|| s(&self.recorded_date))
                .or_else(|| s(&self.issued))
                .or_else(|| s(&self.created))
                .or_else(|| s(&self.started))
                .or_else(|| s(&self.date))
        })?;
        let b = chosen.as_bytes();
        (b.len() >= 7
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..7].iter().all(u8::is_ascii_digit))
        .then(|| &chosen[..7])
    }
}

#[derive(Default)]
struct Tally {
    per_type: HashMap<String, u64>,
    codes: HashMap<(bool, String, String), (String, u64)>,
    gender: HashMap<String, u64>,
    age: [u64; 11],
    per_month: HashMap<String, u64>,
    undated: u64,
    invalid: u64,
}

impl Tally {
    fn add(&mut self, file_type: &str, line: &[u8], as_of: (i32, u32, u32)) {
        if fhir_ndjson::check_line(line, file_type).is_err() {
            self.invalid += 1;
            return;
        }
        // A resource serde cannot read whole (nested past its limit of 128) still counts, undated.
        let r = serde_json::from_slice::<Slim>(line).unwrap_or_default();
        *self.per_type.entry(file_type.to_string()).or_default() += 1;
        match r.month() {
            Some(m) => *self.per_month.entry(m.to_string()).or_default() += 1,
            None => self.undated += 1,
        }
        match file_type {
            "Observation" | "Condition" => {
                let observation = file_type == "Observation";
                let coding = r.code.as_ref().map(|c| &c["coding"][0]);
                if let Some(c) = coding.filter(|c| c["code"].is_string()) {
                    let key = (
                        observation,
                        c["system"].as_str().unwrap_or("").to_string(),
                        c["code"].as_str().unwrap_or("").to_string(),
                    );
                    let entry = self.codes.entry(key).or_insert_with(|| {
                        let display = c["display"]
                            .as_str()
                            .or_else(|| r.code.as_ref().and_then(|cc| cc["text"].as_str()))
                            .unwrap_or("");
                        (display.to_string(), 0)
                    });
                    entry.1 += 1;
                }
            }
            "Patient" => {
                let gender = r.gender.as_ref().and_then(Value::as_str).unwrap_or("(none)");
                *self.gender.entry(gender.to_string()).or_default() += 1;
                let birth = r.birth_date.as_ref().and_then(Value::as_str).and_then(ymd);
                let until = r.deceased_date_time.as_ref().and_then(Value::as_str).and_then(ymd).unwrap_or(as_of);
                let band = match birth {
                    Some(b) => {
                        let mut years = until.0 - b.0;
                        if (until.1, until.2) < (b.1, b.2) {
                            years -= 1;
                        }
                        if years < 0 { 10 } else { (years / 10).min(9) as usize }
                    }
                    None => 10,
                };
                self.age[band] += 1;
            }
            _ => {}
        }
    }

    fn merge(&mut self, other: Tally) {
        for (k, v) in other.per_type {
            *self.per_type.entry(k).or_default() += v;
        }
        for (k, (d, v)) in other.codes {
            self.codes.entry(k).or_insert((d, 0)).1 += v;
        }
        for (k, v) in other.gender {
            *self.gender.entry(k).or_default() += v;
        }
        for (a, b) in self.age.iter_mut().zip(other.age) {
            *a += b;
        }
        for (k, v) in other.per_month {
            *self.per_month.entry(k).or_default() += v;
        }
        self.undated += other.undated;
        self.invalid += other.invalid;
    }
}

/// `1970-01-02` (or a date-time starting so) → (1970, 1, 2); a bare year or year-month counts from its start.
fn ymd(s: &str) -> Option<(i32, u32, u32)> {
    let year = s.get(..4)?.parse().ok()?;
    let month = s.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    let day = s.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(1);
    Some((year, month, day))
}

fn sorted_counts(map: HashMap<String, u64>) -> Vec<LabelCount> {
    let mut v: Vec<LabelCount> = map.into_iter().map(|(label, count)| LabelCount { label, count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    v
}

impl PreviewFolder {
    /// Reads every file once and counts what the charts show. `progress(bytes read, bytes)` as it goes.
    pub fn charts(&self, progress: &(dyn Fn(u64, u64) + Sync), cancel: &AtomicBool) -> Result<Charts, PreviewError> {
        let as_of_text = self.transaction_time().unwrap_or_else(|| time::OffsetDateTime::now_utc().date().to_string());
        let as_of = ymd(&as_of_text).unwrap_or((1970, 1, 1));
        let files: Vec<(String, PathBuf)> = self
            .files_by_type()
            .into_iter()
            .flat_map(|(t, paths, _)| paths.into_iter().map(move |p| (t.clone(), p)))
            .collect();
        let total: u64 = files.iter().filter_map(|(_, p)| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
        let next = AtomicUsize::new(0);
        let read = Arc::new(AtomicU64::new(0));
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4);
        let results: Vec<Result<Tally, PreviewError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let (files, next, read) = (&files, &next, read.clone());
                    scope.spawn(move || {
                        let mut tally = Tally::default();
                        while let Some((file_type, path)) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                            let input = fhir_ndjson::open_counting(path, &read)?;
                            let mut lines =
                                fhir_ndjson::LineReader::new(std::io::BufReader::with_capacity(1 << 20, input));
                            let mut n = 0u32;
                            while let Some((_, line)) = lines.next_line().map_err(|e| PreviewError::read(path, e))? {
                                if fhir_ndjson::is_blank(line) {
                                    continue;
                                }
                                tally.add(file_type, line, as_of);
                                n += 1;
                                if n.is_multiple_of(4096) {
                                    if cancel.load(Ordering::Relaxed) {
                                        return Err(PreviewError::Cancelled);
                                    }
                                    progress(read.load(Ordering::Relaxed), total);
                                }
                            }
                        }
                        Ok(tally)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("chart worker")).collect()
        });
        let mut tally = Tally::default();
        for r in results {
            tally.merge(r?);
        }
        progress(total, total);

        let top = |observation: bool| {
            let mut v: Vec<CodeCount> = tally
                .codes
                .iter()
                .filter(|((o, _, _), _)| *o == observation)
                .map(|((_, system, code), (display, count))| CodeCount {
                    system: system.clone(),
                    code: code.clone(),
                    display: display.clone(),
                    count: *count,
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
            v.truncate(20);
            v
        };
        let (observation_codes, condition_codes) = (top(true), top(false));
        let mut age: Vec<LabelCount> = (0..10)
            .map(|i| LabelCount {
                label: if i == 9 { "90+".into() } else { format!("{}–{}", i * 10, i * 10 + 9) },
                count: tally.age[i],
            })
            .collect();
        if tally.age[10] > 0 {
            age.push(LabelCount { label: "Unknown".into(), count: tally.age[10] });
        }
        let mut per_month: Vec<LabelCount> =
            tally.per_month.into_iter().map(|(label, count)| LabelCount { label, count }).collect();
        per_month.sort_by(|a, b| a.label.cmp(&b.label));
        Ok(Charts {
            per_type: sorted_counts(tally.per_type),
            observation_codes,
            condition_codes,
            gender: sorted_counts(tally.gender),
            age,
            age_as_of: as_of_text.get(..10).unwrap_or(&as_of_text).to_string(),
            per_month,
            undated: tally.undated,
            invalid_lines: tally.invalid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_prefer_last_updated_then_the_main_date() {
        let s: Slim = serde_json::from_str(
            r#"{"meta":{"lastUpdated":"2024-05-06T00:00:00Z"},"effectiveDateTime":"2011-02-02T16:30:49-05:00"}"#,
        )
        .unwrap();
        assert_eq!(s.month(), Some("2024-05"));
        let s: Slim = serde_json::from_str(r#"{"period":{"start":"2011-02-02"},"issued":"2012-01-01"}"#).unwrap();
        assert_eq!(s.month(), Some("2011-02"));
        let s: Slim = serde_json::from_str(r#"{"issued":"soon"}"#).unwrap();
        assert_eq!(s.month(), None);
    }

    #[test]
    fn ages_count_to_the_export_date_or_death() {
        let mut t = Tally::default();
        let as_of = (2024, 6, 1);
        t.add("Patient", br#"{"resourceType":"Patient","gender":"female","birthDate":"1990-06-02"}"#, as_of);
        t.add(
            "Patient",
            br#"{"resourceType":"Patient","birthDate":"1920-01-01","deceasedDateTime":"2000-01-01"}"#,
            as_of,
        );
        t.add("Patient", br#"{"resourceType":"Patient","birthDate":"1900"}"#, as_of);
        t.add("Patient", br#"{"resourceType":"Patient","birthDate":7}"#, as_of);
        t.add("Patient", b"not json", as_of);
        assert_eq!(t.age[3], 1); // 33 on the day before the 34th birthday
        assert_eq!(t.age[8], 1); // died at 80
        assert_eq!(t.age[9], 1); // 124
        assert_eq!(t.age[10], 1); // unusable birth date
        assert_eq!(t.gender["female"], 1);
        assert_eq!(t.gender["(none)"], 3);
        assert_eq!(t.invalid, 1);
    }
}
