//! Exports over real HTTP: system, Patient and Group level, the kickoff parameters, group search, the same
//! data for the same seed, and a folder source.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use bulk_sim::{DataSource, SimConfig};
use common::{all_outputs, config, download, http, kickoff, manifest, start};
use serde_json::{Value, json};

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

    // BCDA's `all`: every patient the client may see (here, all of them), for exports only, as on BCDA.
    let status = kickoff(&sim, "Group/all/$export?_type=Patient", None).await;
    let (m, _) = manifest(&status, None).await;
    assert!(m["request"].as_str().unwrap().ends_with("/Group/all/$export?_type=Patient"), "{}", m["request"]);
    assert_eq!(all_outputs(&m, None).await["Patient"].len(), 200);
    let res = http().get(format!("{}/Group/all", sim.base_url())).send().await.unwrap();
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
