//! The simulator over real HTTP: every endpoint and every fault knob, plain reqwest requests.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bulk_sim::{AuthMode, DataSource, Faults, RetryAfter, RunningSim, SimConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// No automatic decompression: tests look at what the server really sent.
fn http() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn config(patients: u64) -> SimConfig {
    SimConfig { data: DataSource::Generated { seed: 42, patients }, ..SimConfig::default() }
}

async fn start(config: SimConfig) -> RunningSim {
    RunningSim::start(config).await.unwrap()
}

/// Kicks off (GET) and returns the status URL.
async fn kickoff(sim: &RunningSim, path_and_query: &str, token: Option<&str>) -> String {
    let mut req = http()
        .get(format!("{}/{path_and_query}", sim.base_url()))
        .header("Accept", "application/fhir+json")
        .header("Prefer", "respond-async");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    res.headers()["content-location"].to_str().unwrap().to_string()
}

/// Polls until the manifest arrives; counts the 202s.
async fn manifest(status_url: &str, token: Option<&str>) -> (Value, u32) {
    let mut accepted = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut req = http().get(status_url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        match res.status().as_u16() {
            202 => {
                accepted += 1;
                assert!(res.headers().contains_key("x-progress"));
                assert!(res.headers().contains_key("retry-after"));
            }
            200 => return (res.json().await.unwrap(), accepted),
            other => panic!("status {other}: {}", res.text().await.unwrap()),
        }
        assert!(Instant::now() < deadline, "export never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn download(url: &str, token: Option<&str>) -> Vec<Value> {
    let mut req = http().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    assert_eq!(res.headers()["content-type"], "application/fhir+ndjson");
    let text = res.text().await.unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// Downloads every output file; resources per type.
async fn all_outputs(manifest: &Value, token: Option<&str>) -> BTreeMap<String, Vec<Value>> {
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for out in manifest["output"].as_array().unwrap() {
        let t = out["type"].as_str().unwrap();
        let resources = download(out["url"].as_str().unwrap(), token).await;
        assert_eq!(resources.len() as u64, out["count"].as_u64().unwrap(), "count of {}", out["url"]);
        for r in &resources {
            assert_eq!(r["resourceType"], t);
        }
        by_type.entry(t.to_string()).or_default().extend(resources);
    }
    by_type
}

#[tokio::test]
async fn a_full_system_export_then_delete() {
    let mut cfg = config(40);
    cfg.resources_per_file = 200;
    cfg.prepare_time = Duration::from_millis(300);
    let sim = start(cfg).await;
    let status = kickoff(&sim, "$export", None).await;
    let (m, accepted) = manifest(&status, None).await;
    assert!(accepted >= 1, "status said 202 while preparing");
    assert_eq!(m["requiresAccessToken"], false);
    assert!(m["request"].as_str().unwrap().ends_with("/fhir/$export"));
    assert!(m["transactionTime"].as_str().unwrap().starts_with("20"));
    assert!(m["extension"].is_object());
    let outputs = all_outputs(&m, None).await;
    let expected = sim.resource_counts();
    let got: BTreeMap<String, u64> = outputs.iter().map(|(t, v)| (t.clone(), v.len() as u64)).collect();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 15, "every generated type at system level");
    // Several files per type once a type passes resources_per_file.
    let obs_files = m["output"].as_array().unwrap().iter().filter(|o| o["type"] == "Observation").count();
    assert!(obs_files > 1, "Observation split into {obs_files} files");

    let res = http().delete(&status).send().await.unwrap();
    assert_eq!(res.status(), 202);
    let res = http().get(&status).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let oo: Value = res.json().await.unwrap();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    let first_file = m["output"][0]["url"].as_str().unwrap();
    assert_eq!(http().get(first_file).send().await.unwrap().status(), 404);
    assert_eq!(sim.stats().deletes, 1);
}

#[tokio::test]
async fn group_and_patient_level_exports_stay_in_scope() {
    let sim = start(config(200)).await;
    let groups: Value =
        http().get(format!("{}/Group?name=aco", sim.base_url())).send().await.unwrap().json().await.unwrap();
    let north = groups["entry"].as_array().unwrap().iter().find(|e| e["resource"]["id"] == "aco-north").unwrap();
    let size = north["resource"]["quantity"].as_u64().unwrap();
    assert!(size > 30 && size < 100, "about 30% of 200: {size}");

    let group: Value =
        http().get(format!("{}/Group/aco-north", sim.base_url())).send().await.unwrap().json().await.unwrap();
    let members: Vec<String> = group["member"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["entity"]["reference"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(members.len() as u64, size);

    let status = kickoff(&sim, "Group/aco-north/$export?_type=Patient,Observation", None).await;
    let (m, _) = manifest(&status, None).await;
    let out = all_outputs(&m, None).await;
    assert_eq!(out.keys().collect::<Vec<_>>(), ["Observation", "Patient"]);
    assert_eq!(out["Patient"].len() as u64, size);
    for obs in &out["Observation"] {
        assert!(members.contains(&obs["subject"]["reference"].as_str().unwrap().to_string()));
    }

    let status = kickoff(&sim, "Patient/$export?_type=Practitioner,Patient", None).await;
    let (m, _) = manifest(&status, None).await;
    let out = all_outputs(&m, None).await;
    assert_eq!(out.keys().collect::<Vec<_>>(), ["Patient"], "Practitioner is not in the patient compartment");
    assert_eq!(out["Patient"].len(), 200);

    let res = http().get(format!("{}/Group/nope/$export", sim.base_url())).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn post_with_patients_exports_only_them() {
    let sim = start(config(50)).await;
    let body = json!({"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Patient,Condition"},
        {"name": "patient", "valueReference": {"reference": "Patient/pat-0000003"}},
        {"name": "patient", "valueReference": {"reference": "Patient/pat-0000007"}}
    ]});
    let res = http()
        .post(format!("{}/Group/all-patients/$export", sim.base_url()))
        .header("Prefer", "respond-async")
        .header("Content-Type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let (m, _) = manifest(res.headers()["content-location"].to_str().unwrap(), None).await;
    let out = all_outputs(&m, None).await;
    let ids: Vec<&str> = out["Patient"].iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["pat-0000003", "pat-0000007"]);

    // patient= with GET, or at system level, is refused with an OperationOutcome.
    let res = http().get(format!("{}/Patient/$export?patient=pat-0000003", sim.base_url())).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let oo: Value = res.json().await.unwrap();
    assert!(oo["issue"][0]["diagnostics"].as_str().unwrap().contains("POST"));
}

#[tokio::test]
async fn since_elements_and_type_filters() {
    let sim = start(config(30)).await;
    let status = kickoff(&sim, "$export?_type=Observation,Condition&_since=2024-01-01T00:00:00Z", None).await;
    let (m, _) = manifest(&status, None).await;
    let out = all_outputs(&m, None).await;
    assert!(!out["Observation"].is_empty());
    for r in out.values().flatten() {
        assert!(r["meta"]["lastUpdated"].as_str().unwrap() > "2024-01-01T00:00:00Z");
    }
    assert!(out["Observation"].len() < sim.resource_counts()["Observation"] as usize);
    let deleted = m["deleted"].as_array().unwrap();
    assert_eq!(deleted.len(), 1);
    let bundles = download(deleted[0]["url"].as_str().unwrap(), None).await;
    assert_eq!(bundles[0]["entry"][0]["request"]["method"], "DELETE");

    let status = kickoff(&sim, "$export?_type=Patient&_elements=gender,Patient.birthDate", None).await;
    let (m, _) = manifest(&status, None).await;
    let out = all_outputs(&m, None).await;
    for p in &out["Patient"] {
        let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["birthDate", "gender", "id", "meta", "resourceType"]);
        assert_eq!(p["meta"]["tag"][0]["code"], "SUBSETTED");
    }

    let filter = "Observation%3Fcategory%3Dlaboratory";
    let status = kickoff(&sim, &format!("$export?_type=Observation&_typeFilter={filter}"), None).await;
    let (m, _) = manifest(&status, None).await;
    let out = all_outputs(&m, None).await;
    assert!(!out["Observation"].is_empty());
    for o in &out["Observation"] {
        assert_eq!(o["category"][0]["coding"][0]["code"], "laboratory");
    }

    // An unsupported filter: refused, unless the client asks for lenient handling.
    let unsupported = "Observation%3Fvalue-quantity%3Dgt5";
    let res = http().get(format!("{}/$export?_typeFilter={unsupported}", sim.base_url())).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let res = http()
        .get(format!("{}/$export?_type=Patient&_typeFilter={unsupported}", sim.base_url()))
        .header("Prefer", "respond-async, handling=lenient")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let (m, _) = manifest(res.headers()["content-location"].to_str().unwrap(), None).await;
    let errors = download(m["error"][0]["url"].as_str().unwrap(), None).await;
    assert_eq!(errors[0]["issue"][0]["severity"], "warning");
    assert!(errors[0]["issue"][0]["diagnostics"].as_str().unwrap().contains("value-quantity"));
}

#[tokio::test]
async fn output_formats_and_strict_headers() {
    let sim = start(config(5)).await;
    for f in ["application%2Ffhir%2Bndjson", "application%2Fndjson", "ndjson"] {
        kickoff(&sim, &format!("$export?_type=Patient&_outputFormat={f}"), None).await;
    }
    let res = http().get(format!("{}/$export?_outputFormat=text%2Fcsv", sim.base_url())).send().await.unwrap();
    assert_eq!(res.status(), 400);
    // Forgiving by default: no Prefer header is fine.
    assert_eq!(http().get(format!("{}/$export", sim.base_url())).send().await.unwrap().status(), 202);

    let mut cfg = config(5);
    cfg.strict_headers = true;
    let strict = start(cfg).await;
    let res = http()
        .get(format!("{}/$export", strict.base_url()))
        .header("Accept", "application/fhir+json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = http()
        .get(format!("{}/$export", strict.base_url()))
        .header("Prefer", "respond-async")
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    kickoff(&strict, "$export", None).await;
}

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

async fn kickoff_status(sim: &RunningSim) -> reqwest::Response {
    http().get(format!("{}/$export?_type=Patient", sim.base_url())).send().await.unwrap()
}

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

#[tokio::test]
async fn group_search_pages_with_next_links() {
    let sim = start(config(100)).await;
    let page1: Value =
        http().get(format!("{}/Group?_count=2", sim.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(page1["type"], "searchset");
    assert_eq!(page1["total"], 5);
    assert_eq!(page1["entry"].as_array().unwrap().len(), 2);
    let mut seen = 2;
    let mut next = page1["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| l["url"].as_str().unwrap().to_string());
    while let Some(url) = next {
        let page: Value = http().get(&url).send().await.unwrap().json().await.unwrap();
        seen += page["entry"].as_array().unwrap().len();
        next = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, 5);
    let by_id: Value = http()
        .get(format!("{}/Group?identifier=urn:haul:bulk-sim:group|ACO-SOUTH-2026", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_id["total"], 1);
    assert_eq!(by_id["entry"][0]["resource"]["id"], "aco-south");
    assert!(by_id["entry"][0]["resource"].get("member").is_none(), "search results carry no member lists");
    let by_name: Value =
        http().get(format!("{}/Group?name=diab", sim.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(by_name["entry"][0]["resource"]["name"], "Diabetes Registry");
    assert_eq!(http().get(format!("{}/Group/missing", sim.base_url())).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_files() {
    let a = start(config(15)).await;
    let b = start(config(15)).await;
    let (ma, _) = manifest(&kickoff(&a, "$export", None).await, None).await;
    let (mb, _) = manifest(&kickoff(&b, "$export", None).await, None).await;
    assert_eq!(all_outputs(&ma, None).await, all_outputs(&mb, None).await);
}

#[tokio::test]
async fn a_folder_source_serves_the_synthea_sample() {
    // The project's shared folder sits beside the repository (as in CI); HAUL_SHARED_DIR points elsewhere.
    let shared = std::env::var_os("HAUL_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared"));
    let dir = shared.join("data/synthea-r4");
    assert!(
        dir.is_dir(),
        "the Synthea sample is missing at {}: set HAUL_SHARED_DIR to the shared folder",
        dir.display()
    );
    let sim = start(SimConfig { data: DataSource::Folder(dir), ..SimConfig::default() }).await;
    let counts = sim.resource_counts();
    assert_eq!(counts["Patient"], 100);
    assert_eq!(counts["Observation"], 16315);
    assert_eq!(counts.values().sum::<u64>(), 38971);
    let groups: Value = http().get(format!("{}/Group", sim.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(groups["total"], 2, "all-patients and the sample's own Group");
    let own = groups["entry"][1]["resource"]["id"].as_str().unwrap().to_string();
    let (m, _) =
        manifest(&kickoff(&sim, &format!("Group/{own}/$export?_type=Patient,Condition"), None).await, None).await;
    let out = all_outputs(&m, None).await;
    assert_eq!(out["Patient"].len(), 100);
    assert_eq!(out["Condition"].len(), 639);
}

// ---- SMART Backend Services ----

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{KEYS}/{name}")).unwrap()
}

fn jwks(set: &str) -> Value {
    serde_json::from_slice(&key_file(&format!("jwks-{set}.json"))).unwrap()
}

fn assertion(alg: Algorithm, set: &str, client_id: &str, aud: &str, exp_in: i64, jti: &str) -> String {
    let (kid, key) = match alg {
        Algorithm::RS384 => ("rsa-test", EncodingKey::from_rsa_pem(&key_file(&format!("rs384-{set}.pem"))).unwrap()),
        _ => ("ec-test", EncodingKey::from_ec_pem(&key_file(&format!("es384-{set}.pem"))).unwrap()),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    header.typ = Some("JWT".into());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": now + exp_in, "jti": jti});
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn token_request(sim: &RunningSim, assertion: &str, scope: &str) -> reqwest::Response {
    http()
        .post(sim.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
}

fn smart_config(lifetime: Duration) -> SimConfig {
    SimConfig { auth: AuthMode::Smart { token_lifetime: lifetime }, ..config(10) }
}

#[tokio::test]
async fn smart_discovery_and_a_full_flow_with_both_algorithms() {
    let sim = start(smart_config(Duration::from_secs(300))).await;
    let conf: Value = http()
        .get(format!("{}/.well-known/smart-configuration", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conf["token_endpoint"], sim.token_url());
    assert_eq!(conf["token_endpoint_auth_signing_alg_values_supported"], json!(["RS384", "ES384"]));
    let cs: Value = http().get(format!("{}/metadata", sim.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(cs["rest"][0]["security"]["extension"][0]["extension"][0]["valueUri"], sim.token_url());

    // Without a token: 401 everywhere that matters.
    assert_eq!(kickoff_status(&sim).await.status(), 401);
    let client = sim.register_client(jwks("a"), None).unwrap();
    for (alg, jti) in [(Algorithm::RS384, "j-rs"), (Algorithm::ES384, "j-es")] {
        let res = token_request(&sim, &assertion(alg, "a", &client, &sim.token_url(), 240, jti), "system/*.read").await;
        assert_eq!(res.status(), 200, "{alg:?}");
        let token: Value = res.json().await.unwrap();
        assert_eq!(token["token_type"], "bearer");
        assert_eq!(token["expires_in"], 300);
        let t = token["access_token"].as_str().unwrap();
        let status = kickoff(&sim, "$export?_type=Patient", Some(t)).await;
        assert_eq!(http().get(&status).send().await.unwrap().status(), 401, "status needs the token too");
        let (m, _) = manifest(&status, Some(t)).await;
        assert_eq!(m["requiresAccessToken"], true);
        let url = m["output"][0]["url"].as_str().unwrap();
        assert_eq!(http().get(url).send().await.unwrap().status(), 401, "files need the token");
        assert_eq!(download(url, Some(t)).await.len(), 10);
    }
}

async fn token_error(sim: &RunningSim, assertion: &str, scope: &str) -> (u16, String, String) {
    let res = token_request(sim, assertion, scope).await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_string(), body["error_description"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn bad_assertions_get_rfc6749_errors() {
    let sim = start(smart_config(Duration::from_secs(300))).await;
    let client = sim.register_client(jwks("a"), None).unwrap();
    let aud = sim.token_url();

    let (s, e, d) =
        token_error(&sim, &assertion(Algorithm::RS384, "b", &client, &aud, 240, "1"), "system/*.read").await;
    assert_eq!((s, e.as_str()), (401, "invalid_client"));
    assert!(d.contains("signature"), "{d}");
    let (_, e, d) =
        token_error(&sim, &assertion(Algorithm::ES384, "b", &client, &aud, 240, "2"), "system/*.read").await;
    assert_eq!(e, "invalid_client");
    assert!(d.contains("signature"), "{d}");

    let (_, e, d) =
        token_error(&sim, &assertion(Algorithm::RS384, "a", &client, &aud, -30, "3"), "system/*.read").await;
    assert_eq!(e, "invalid_client");
    assert!(d.contains("expired"), "{d}");

    let (_, _, d) =
        token_error(&sim, &assertion(Algorithm::RS384, "a", &client, &aud, 3600, "4"), "system/*.read").await;
    assert!(d.contains("five minutes"), "{d}");

    let (_, _, d) =
        token_error(&sim, &assertion(Algorithm::RS384, "a", "stranger", &aud, 240, "5"), "system/*.read").await;
    assert!(d.contains("unknown client"), "{d}");

    let (_, _, d) = token_error(
        &sim,
        &assertion(Algorithm::RS384, "a", &client, "https://elsewhere/token", 240, "6"),
        "system/*.read",
    )
    .await;
    assert!(d.contains("aud"), "{d}");

    let good = assertion(Algorithm::ES384, "a", &client, &aud, 240, "7");
    assert_eq!(token_request(&sim, &good, "system/*.rs").await.status(), 200);
    let (_, e, d) = token_error(&sim, &good, "system/*.rs").await;
    assert_eq!(e, "invalid_client");
    assert!(d.contains("jti was already used"), "{d}");

    let (s, e, _) =
        token_error(&sim, &assertion(Algorithm::ES384, "a", &client, &aud, 240, "8"), "system/*.write").await;
    assert_eq!((s, e.as_str()), (400, "invalid_scope"));
}

#[tokio::test]
async fn tokens_expire() {
    let sim = start(smart_config(Duration::from_secs(1))).await;
    let client = sim.register_client(jwks("a"), None).unwrap();
    let res =
        token_request(&sim, &assertion(Algorithm::ES384, "a", &client, &sim.token_url(), 240, "x"), "system/*.read")
            .await;
    let token: Value = res.json().await.unwrap();
    let t = token["access_token"].as_str().unwrap();
    kickoff(&sim, "$export?_type=Patient", Some(t)).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let res = http().get(format!("{}/$export", sim.base_url())).bearer_auth(t).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
}

#[tokio::test]
async fn the_demo_server_accepts_a_registration_over_http() {
    let sim = start(smart_config(Duration::from_secs(300))).await;
    let res = http()
        .post(format!("{}/_sim/register", sim.base_url().trim_end_matches("/fhir")))
        .json(&jwks("a"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let client = body["client_id"].as_str().unwrap();
    let res =
        token_request(&sim, &assertion(Algorithm::RS384, "a", client, &sim.token_url(), 200, "r"), "system/*.read")
            .await;
    assert_eq!(res.status(), 200);
    let res = http()
        .post(format!("{}/_sim/register", sim.base_url().trim_end_matches("/fhir")))
        .json(&json!({"keys": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}
