//! Serving export files over real HTTP: gzip, `Range`, dropped connections, slow streams, expiry, and
//! redirects to a second origin.

use crate::common;

use std::io::Read;
use std::time::{Duration, Instant};

use bulk_sim::Faults;
use common::{config, http, kickoff, manifest, start};
use serde_json::Value;

#[tokio::test]
async fn files_support_gzip_and_ranges() {
    let sim = start(config(20)).await;
    let (m, _) = manifest(&kickoff(&sim, "$export?_type=Observation", None).await, None).await;
    let url = m["output"][0]["url"].as_str().unwrap();
    let plain = http().get(url).send().await.unwrap().bytes().await.unwrap();

    let res = http().get(url).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let gz = res.bytes().await.unwrap();
    assert!(gz.len() < plain.len() / 3);
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain);

    let res = http().get(url).header("Range", "bytes=100-").send().await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.headers()["content-range"], format!("bytes 100-{}/{}", plain.len() - 1, plain.len()));
    assert_eq!(res.bytes().await.unwrap(), plain[100..]);
    let res = http().get(url).header("Range", format!("bytes={}-", plain.len())).send().await.unwrap();
    assert_eq!(res.status(), 416);
}

#[tokio::test]
async fn dropped_connections_can_resume_with_range() {
    let sim = start(config(20)).await;
    sim.set_faults(Faults { drop_after_bytes: Some(10_000), drop_times_per_file: 1, ..Faults::default() });
    let (m, _) = manifest(&kickoff(&sim, "$export?_type=Observation", None).await, None).await;
    let url = m["output"][0]["url"].as_str().unwrap();
    let res = http().get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let full_len: usize = res.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert!(full_len > 10_000);
    let mut got = Vec::new();
    let mut res = res;
    let err = loop {
        match res.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => panic!("the body should have been cut off"),
            Err(e) => break e,
        }
    };
    assert_eq!(got.len(), 10_000, "cut after exactly K bytes ({err})");
    let rest = http().get(url).header("Range", "bytes=10000-").send().await.unwrap();
    assert_eq!(rest.status(), 206);
    got.extend_from_slice(&rest.bytes().await.unwrap());
    assert_eq!(got.len(), full_len);
    assert!(std::str::from_utf8(&got).unwrap().lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
    let file_name = url.rsplit('/').next().unwrap();
    assert_eq!(sim.stats().file_requests[file_name], 2);
}

#[tokio::test]
async fn slow_files_are_slow() {
    let sim = start(config(3)).await;
    sim.set_faults(Faults { file_bytes_per_second: Some(20_000), ..Faults::default() });
    let (m, _) = manifest(&kickoff(&sim, "$export?_type=Patient", None).await, None).await;
    let url = m["output"][0]["url"].as_str().unwrap();
    let started = Instant::now();
    let body = http().get(url).send().await.unwrap().bytes().await.unwrap();
    let expected = Duration::from_secs_f64(body.len() as f64 / 20_000.0);
    assert!(started.elapsed() >= expected.mul_f64(0.8), "{:?} for {} bytes", started.elapsed(), body.len());
}

#[tokio::test]
async fn files_expire() {
    let sim = start(config(3)).await;
    for (gone, code) in [(false, 404), (true, 410)] {
        sim.set_faults(Faults {
            files_expire_after: Some(Duration::from_millis(300)),
            expired_gone: gone,
            ..Faults::default()
        });
        let status = kickoff(&sim, "$export?_type=Patient", None).await;
        let res = loop {
            let res = http().get(&status).send().await.unwrap();
            if res.status() == 200 {
                break res;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(httpdate::parse_http_date(res.headers()["expires"].to_str().unwrap()).is_ok());
        let m: Value = res.json().await.unwrap();
        let url = m["output"][0]["url"].as_str().unwrap().to_string();
        assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let res = http().get(&url).send().await.unwrap();
        assert_eq!(res.status(), code);
        let oo: Value = res.json().await.unwrap();
        assert_eq!(oo["issue"][0]["code"], "expired");
    }
}

#[tokio::test]
async fn redirects_go_to_a_second_origin_that_records_authorization() {
    let sim = start(config(3)).await;
    sim.set_faults(Faults { redirect_files: true, ..Faults::default() });
    let (m, _) = manifest(&kickoff(&sim, "$export?_type=Patient", None).await, None).await;
    let url = m["output"][0]["url"].as_str().unwrap();
    let res = http().get(url).bearer_auth("should-not-travel").send().await.unwrap();
    assert_eq!(res.status(), 307);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(sim.second_origin()));
    // A careful client drops the token on the way; a careless one does not, and it is recorded.
    assert_eq!(http().get(&location).send().await.unwrap().status(), 200);
    http().get(&location).bearer_auth("leaked").send().await.unwrap();
    let stats = sim.stats();
    assert_eq!(stats.redirected_requests, 2);
    assert_eq!(stats.redirected_with_authorization, 1);
}
