//! Server faults over real HTTP: throttled kickoffs and polls, transient and proxy errors, a failed export,
//! malformed lines and failing types.

use crate::common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bulk_sim::{Faults, RetryAfter};
use common::{config, download, http, kickoff, kickoff_status, manifest, start};
use serde_json::Value;

#[tokio::test]
async fn throttling_answers_with_each_retry_after_style() {
    let sim = start(config(5)).await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    for (style, check) in [
        (RetryAfter::Seconds(7), Box::new(|v: &str| v == "7") as Box<dyn Fn(&str) -> bool>),
        (RetryAfter::Hours(3), Box::new(|v: &str| v == "10800")),
        (RetryAfter::HttpDate(30), Box::new(|v: &str| httpdate::parse_http_date(v).is_ok())),
        (RetryAfter::UnixTimestamp, Box::new(move |v: &str| v.parse::<u64>().unwrap() >= now)),
    ] {
        sim.set_faults(Faults { kickoff_429_times: 1, retry_after: style, ..Faults::default() });
        let res = kickoff_status(&sim).await;
        assert_eq!(res.status(), 429, "{style:?}");
        let value = res.headers()["retry-after"].to_str().unwrap().to_string();
        assert!(check(&value), "{style:?}: {value}");
        assert_eq!(kickoff_status(&sim).await.status(), 202, "the fault is used up");
    }
}

#[tokio::test]
async fn status_faults_then_success() {
    let sim = start(config(5)).await;
    let status = kickoff(&sim, "$export?_type=Patient", None).await;
    sim.set_faults(Faults {
        status_429_times: 1,
        status_transient_times: 2,
        status_html_502_times: 1,
        ..Faults::default()
    });
    let res = http().get(&status).send().await.unwrap();
    assert_eq!(res.status(), 429);
    for _ in 0..2 {
        let res = http().get(&status).send().await.unwrap();
        assert_eq!(res.status(), 500);
        let oo: Value = res.json().await.unwrap();
        assert_eq!(oo["issue"][0]["code"], "transient");
    }
    let res = http().get(&status).send().await.unwrap();
    assert_eq!(res.status(), 502);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    manifest(&status, None).await;

    sim.set_faults(Faults { fail_export: true, ..Faults::default() });
    let status = kickoff(&sim, "$export?_type=Patient", None).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = http().get(&status).send().await.unwrap();
        if res.status() == 500 {
            let oo: Value = res.json().await.unwrap();
            assert_ne!(oo["issue"][0]["code"], "transient");
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn malformed_lines_and_failing_types() {
    let sim = start(config(10)).await;
    sim.set_faults(Faults { malformed_lines: 3, failing_types: vec!["Condition".into()], ..Faults::default() });
    let (m, _) = manifest(&kickoff(&sim, "$export?_type=Patient,Condition", None).await, None).await;
    assert!(m["output"].as_array().unwrap().iter().all(|o| o["type"] == "Patient"));
    let out = &m["output"][0];
    let text = http().get(out["url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    let bad = text.lines().filter(|l| serde_json::from_str::<Value>(l).is_err()).count();
    let good = text.lines().filter(|l| serde_json::from_str::<Value>(l).is_ok()).count();
    assert_eq!(bad, 3);
    assert_eq!(good as u64, out["count"].as_u64().unwrap(), "count announces the good lines only");
    let errors = download(m["error"][0]["url"].as_str().unwrap(), None).await;
    assert_eq!(errors[0]["resourceType"], "OperationOutcome");
    assert!(errors[0]["issue"][0]["diagnostics"].as_str().unwrap().contains("Condition"));
}
