//! File throttling over real HTTP: every Nth file request refused with 429 or 503 and `Retry-After`, and
//! downloads over a concurrency limit refused until a streaming body ends or its client goes away.

use crate::common;

use std::time::{Duration, Instant};

use bulk_sim::{Faults, RunningSim};
use common::{config, http, kickoff, manifest, start};
use serde_json::Value;

/// A sim with a finished Patient export; returns the first output file's URL.
async fn exported_file(patients: u64) -> (RunningSim, String) {
    let sim = start(config(patients)).await;
    let (m, _) = manifest(&kickoff(&sim, "$export?_type=Patient", None).await, None).await;
    let url = m["output"][0]["url"].as_str().unwrap().to_string();
    (sim, url)
}

fn file_name(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn every_nth_file_request_is_refused_with_retry_after_and_counted() {
    let (sim, url) = exported_file(5).await;
    sim.set_faults(Faults {
        file_429_every: Some(3),
        file_503_every: Some(5),
        file_retry_after_seconds: 7,
        ..Faults::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = http().get(&url).send().await.unwrap();
        let status = res.status().as_u16();
        statuses.push(status);
        if status != 200 {
            assert_eq!(res.headers()["retry-after"], "7");
            let oo: Value = res.json().await.unwrap();
            assert_eq!(oo["resourceType"], "OperationOutcome");
            assert_eq!(oo["issue"][0]["code"], if status == 429 { "throttled" } else { "transient" });
        }
    }
    assert_eq!(statuses, [200, 200, 429, 200, 503, 429]);
    let stats = sim.stats();
    assert_eq!(stats.files_throttled, 3);
    assert_eq!(stats.file_requests[&file_name(&url)], 3, "refused requests are not file requests");

    sim.set_faults(Faults { file_429_every: Some(1), file_retry_after_seconds: 0, ..Faults::default() });
    let res = http().get(&url).send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_none(), "0 seconds sends no Retry-After");
    assert_eq!(sim.stats().files_throttled, 4);
}

/// Requests the first 100 bytes of `url` until one is let through (the streaming count is released by the
/// server a moment after a body ends or its connection closes); reads it to the end.
async fn first_bytes_once_admitted(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let res = http().get(url).header("Range", "bytes=0-99").send().await.unwrap();
        match res.status().as_u16() {
            206 => {
                assert_eq!(res.bytes().await.unwrap().len(), 100);
                return;
            }
            429 => assert!(Instant::now() < deadline, "the streaming slot was never released"),
            other => panic!("status {other}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn downloads_over_the_concurrency_limit_get_429_until_a_body_ends_or_is_dropped() {
    let (sim, url) = exported_file(10).await;
    // Paced, so that a body stays streaming while the test makes its next request.
    sim.set_faults(Faults { max_concurrent_files: Some(1), file_bytes_per_second: Some(2_000), ..Faults::default() });
    let streaming = http().get(&url).send().await.unwrap();
    assert_eq!(streaming.status(), 200);
    let refused = http().get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(sim.stats().files_throttled, 1);

    drop(streaming);
    first_bytes_once_admitted(&url).await;
    // The short body above ended: the next one gets in too.
    first_bytes_once_admitted(&url).await;
}
