//! Hostile file answers over real HTTP: sign-in pages, short bodies, a giant line, a gzip bomb, trickling
//! bytes and redirects to `file://`.

use crate::common;

use std::io::Read;
use std::time::{Duration, Instant};

use bulk_sim::{Faults, RunningSim};
use common::{config, http, kickoff, manifest, start};
use serde_json::Value;

const BIG: u64 = 5_000_000;

/// A sim with `faults` and a finished export of `types`; returns the manifest.
async fn exported(faults: Faults, types: &str) -> (RunningSim, Value) {
    let sim = start(config(10)).await;
    sim.set_faults(faults);
    let (m, _) = manifest(&kickoff(&sim, &format!("$export?_type={types}"), None).await, None).await;
    (sim, m)
}

fn output_url(m: &Value, i: usize) -> String {
    m["output"][i]["url"].as_str().unwrap().to_string()
}

/// Reads a body chunk by chunk: the bytes that came, and whether the stream ended in an error.
async fn read_all(mut res: reqwest::Response) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    loop {
        match res.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => return (got, false),
            Err(_) => return (got, true),
        }
    }
}

fn content_length(res: &reqwest::Response) -> u64 {
    res.headers()["content-length"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn html_files_answer_a_sign_in_page() {
    let (_sim, m) = exported(Faults { html_files: true, ..Faults::default() }, "Patient").await;
    let res = http().get(output_url(&m, 0)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let page = res.text().await.unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.lines().count() > 3, "{page}");
    assert!(page.contains("<form"));
}

#[tokio::test]
async fn short_bodies_break_off_half_way_even_on_range_resumes() {
    let (_sim, m) = exported(Faults { short_bodies: true, ..Faults::default() }, "Observation").await;
    let url = output_url(&m, 0);
    let res = http().get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let announced = content_length(&res);
    let (got, broken) = read_all(res).await;
    assert!(broken, "the body ends in an error");
    assert_eq!(got.len() as u64, announced / 2);

    let res = http().get(&url).header("Range", "bytes=100-").send().await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(content_length(&res), announced - 100);
    let (got, broken) = read_all(res).await;
    assert!(broken);
    assert_eq!(got.len() as u64, (announced - 100) / 2);
}

#[tokio::test]
async fn a_giant_line_streams_its_exact_length_without_a_newline_and_honours_range() {
    let (_sim, m) = exported(Faults { giant_line_bytes: Some(BIG), ..Faults::default() }, "Patient").await;
    let url = output_url(&m, 0);
    let mut res = http().get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/fhir+ndjson");
    assert_eq!(content_length(&res), BIG);
    let mut received = 0u64;
    while let Some(chunk) = res.chunk().await.unwrap() {
        assert!(chunk.iter().all(|&b| b == b'x'), "only x, no newline");
        received += chunk.len() as u64;
    }
    assert_eq!(received, BIG);

    let res = http().get(&url).header("Range", format!("bytes={}-", BIG - 10)).send().await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.headers()["content-range"], format!("bytes {}-{}/{BIG}", BIG - 10, BIG - 1));
    assert_eq!(&res.bytes().await.unwrap()[..], b"xxxxxxxxxx");
}

#[tokio::test]
async fn a_gzip_bomb_takes_the_first_file_and_the_giant_line_the_second() {
    let faults = Faults { gzip_bomb_bytes: Some(BIG), giant_line_bytes: Some(1000), ..Faults::default() };
    let (_sim, m) = exported(faults, "Patient,Condition").await;
    let res = http().get(output_url(&m, 0)).header("Range", "bytes=100-").send().await.unwrap();
    assert_eq!(res.status(), 200, "Range is ignored");
    assert_eq!(res.headers()["content-type"], "application/fhir+ndjson");
    assert!(!res.headers().contains_key("content-encoding"));
    assert!(!res.headers().contains_key("content-length"));
    let gz = res.bytes().await.unwrap();
    assert_eq!(gz[..2], [0x1f, 0x8b]);
    assert!((gz.len() as u64) < BIG / 100, "{} compressed bytes", gz.len());
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut inflated).unwrap();
    assert_eq!(inflated.len() as u64, BIG);
    assert!(inflated.iter().all(|&b| b == 0));

    let second = http().get(output_url(&m, 1)).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&second[..], &[b'x'; 1000][..]);
}

#[tokio::test]
async fn trickled_files_send_one_byte_per_interval() {
    let interval = Duration::from_millis(200);
    let (_sim, m) = exported(Faults { trickle_every: Some(interval), ..Faults::default() }, "Patient").await;
    let mut res = http().get(output_url(&m, 0)).header("Range", "bytes=0-2").send().await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(content_length(&res), 3);
    let started = Instant::now();
    let mut chunks = 0;
    let mut received = 0;
    while let Some(chunk) = res.chunk().await.unwrap() {
        chunks += 1;
        received += chunk.len();
    }
    assert_eq!(received, 3);
    assert_eq!(chunks, 3, "one byte at a time");
    // Two waits between three bytes; a little slack for the first byte arriving with the headers.
    assert!(started.elapsed() >= interval * 2 - Duration::from_millis(20), "{:?}", started.elapsed());
}

#[tokio::test]
async fn file_urls_can_redirect_to_the_file_scheme() {
    let (_sim, m) = exported(Faults { redirect_files_to_file_scheme: true, ..Faults::default() }, "Patient").await;
    let res = http().get(output_url(&m, 0)).send().await.unwrap();
    assert_eq!(res.status(), 307);
    assert_eq!(res.headers()["location"], "file:///etc/passwd");
}
