//! Benchmark: how fast the simulator serves one file stream on loopback, next to reading the same file
//! from disk in the same run (the ceiling). Not a timed test; it prints figures.
//!
//!     cargo run --release -p bulk-sim --example file_throughput -- [PATIENTS]

use std::time::{Duration, Instant};

use bulk_sim::{DataSource, RunningSim, SimConfig};
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() {
    let patients: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4000);
    let config = SimConfig {
        data: DataSource::Generated { seed: 7, patients },
        resources_per_file: u64::MAX,
        ..SimConfig::default()
    };
    let sim = RunningSim::start(config).await.unwrap();
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    let prepared = Instant::now();
    let res = http.get(format!("{}/$export?_type=Observation", sim.base_url())).send().await.unwrap();
    let status = res.headers()["content-location"].to_str().unwrap().to_string();
    let manifest: serde_json::Value = loop {
        let res = http.get(&status).send().await.unwrap();
        if res.status() == 200 {
            break res.json().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let url = manifest["output"][0]["url"].as_str().unwrap().to_string();
    println!("prepared one Observation file from {patients} patients in {:.1}s", prepared.elapsed().as_secs_f64());

    let mut best_http = 0f64;
    let mut size = 0u64;
    for _ in 0..3 {
        let t = Instant::now();
        let mut res = http.get(&url).send().await.unwrap();
        let mut n = 0u64;
        while let Some(chunk) = res.chunk().await.unwrap() {
            n += chunk.len() as u64;
        }
        size = n;
        best_http = best_http.max(n as f64 / t.elapsed().as_secs_f64());
    }
    // The same bytes straight from the file system (page cache): the ceiling for any server.
    let ours = format!("haul-sim-{}-", std::process::id());
    let job_dir = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&ours))
        .filter_map(|e| {
            let p = e.path().join("job-00001/Observation-1.ndjson");
            p.exists().then_some(p)
        })
        .next();
    let mut best_disk = 0f64;
    if let Some(path) = job_dir {
        for _ in 0..3 {
            let t = Instant::now();
            let mut f = tokio::fs::File::open(&path).await.unwrap();
            let mut buf = vec![0u8; 256 * 1024];
            let mut n = 0u64;
            loop {
                let k = f.read(&mut buf).await.unwrap();
                if k == 0 {
                    break;
                }
                n += k as u64;
            }
            best_disk = best_disk.max(n as f64 / t.elapsed().as_secs_f64());
        }
    }
    let mb = |b: f64| b / 1e6;
    println!("file size:             {:.0} MB", mb(size as f64));
    println!("simulator over HTTP:   {:.0} MB/s (best of 3, one stream)", mb(best_http));
    if best_disk > 0.0 {
        println!("same file from disk:   {:.0} MB/s (best of 3, tokio::fs)", mb(best_disk));
        println!("ratio HTTP / disk:     {:.2}", best_http / best_disk);
    }
}
