//! Behaviour of real servers over real HTTP: HAPI's manifest without `requiresAccessToken`, BCDA's 429 while a
//! job runs, AB2D's `_until` and implied `_since`, and a capability statement that lists every type served.

use crate::common;

use std::time::Duration;

use bulk_sim::{AuthMode, Faults, RunningSim, SimConfig};
use common::{config, download, http, kickoff, kickoff_status, manifest, start};
use serde_json::{Value, json};

/// Resources in a manifest's output, by its counts.
fn total(manifest: &Value) -> u64 {
    manifest["output"].as_array().unwrap().iter().map(|o| o["count"].as_u64().unwrap()).sum()
}

async fn exported(sim: &RunningSim, path_and_query: &str) -> Value {
    manifest(&kickoff(sim, path_and_query, None).await, None).await.0
}

#[tokio::test]
async fn the_manifest_can_lack_requires_access_token_while_files_still_need_the_token() {
    const TOKEN: &str = "hapi-token";
    let sim = start(SimConfig { auth: AuthMode::StaticBearer { token: TOKEN.into() }, ..config(5) }).await;
    sim.set_faults(Faults { omit_requires_access_token: true, ..Faults::default() });
    let (m, _) = manifest(&kickoff(&sim, "$export?_type=Patient", Some(TOKEN)).await, Some(TOKEN)).await;
    assert!(m.get("requiresAccessToken").is_none(), "{m}");
    let url = m["output"][0]["url"].as_str().unwrap();
    assert_eq!(http().get(url).send().await.unwrap().status(), 401);
    assert_eq!(download(url, Some(TOKEN)).await.len(), 5);
}

/// A kickoff answers BCDA's 429 naming the running job at `running`.
async fn assert_busy(sim: &RunningSim, running: &str, phase: &str) {
    let res = kickoff_status(sim).await;
    assert_eq!(res.status(), 429, "{phase}");
    assert_eq!(res.headers()["retry-after"], "5", "{phase}");
    let oo: Value = res.json().await.unwrap();
    assert_eq!(oo["issue"][0]["diagnostics"], format!("A job is already in progress: {running}"), "{phase}");
}

#[tokio::test]
async fn a_kickoff_while_a_job_runs_gets_429_naming_it_until_that_job_is_deleted() {
    let sim = start(SimConfig { prepare_time: Duration::from_millis(300), ..config(5) }).await;
    sim.set_faults(Faults { busy_while_running: true, ..Faults::default() });
    let first = kickoff(&sim, "$export?_type=Patient", None).await;
    assert_busy(&sim, &first, "while preparing").await;
    manifest(&first, None).await;
    assert_busy(&sim, &first, "ready, not deleted").await;
    assert_eq!(http().delete(&first).send().await.unwrap().status(), 202);
    assert_eq!(kickoff_status(&sim).await.status(), 202, "after DELETE");
}

#[tokio::test]
async fn until_keeps_only_resources_updated_by_then_and_a_bad_one_is_refused() {
    const UNTIL: &str = "2020-01-01T00:00:00Z";
    let sim = start(config(20)).await;
    let all = exported(&sim, "$export?_type=Observation").await;
    let until = exported(&sim, &format!("$export?_type=Observation&_until={UNTIL}")).await;
    assert!(0 < total(&until) && total(&until) < total(&all), "{} of {}", total(&until), total(&all));
    let cutoff = time::OffsetDateTime::parse(UNTIL, &time::format_description::well_known::Rfc3339).unwrap();
    for out in until["output"].as_array().unwrap() {
        for r in download(out["url"].as_str().unwrap(), None).await {
            let updated = r["meta"]["lastUpdated"].as_str().unwrap();
            let updated = time::OffsetDateTime::parse(updated, &time::format_description::well_known::Rfc3339);
            assert!(updated.unwrap() <= cutoff);
        }
    }

    let parameters = json!({"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Observation"},
        {"name": "_until", "valueInstant": UNTIL}
    ]});
    let res = http()
        .post(format!("{}/$export", sim.base_url()))
        .header("Prefer", "respond-async")
        .header("Content-Type", "application/fhir+json")
        .body(parameters.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let (posted, _) = manifest(res.headers()["content-location"].to_str().unwrap(), None).await;
    assert_eq!(total(&posted), total(&until), "POST Parameters and GET agree");

    let res = http().get(format!("{}/$export?_until=last-tuesday", sim.base_url())).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let oo: Value = res.json().await.unwrap();
    assert!(oo["issue"][0]["diagnostics"].as_str().unwrap().contains("_until"), "{oo}");
}

#[tokio::test]
async fn without_since_an_export_takes_the_last_completed_one_as_since() {
    let sim = start(config(10)).await;
    sim.set_faults(Faults { default_since_last: true, ..Faults::default() });
    let first = exported(&sim, "$export?_type=Patient,Observation").await;
    assert!(total(&first) > 0);
    let second = exported(&sim, "$export?_type=Patient,Observation").await;
    assert!(total(&second) < total(&first), "{} then {}", total(&first), total(&second));
    assert_eq!(second["request"], format!("{}/$export?_type=Patient,Observation", sim.base_url()), "as sent");

    sim.set_faults(Faults::default());
    let third = exported(&sim, "$export?_type=Patient,Observation").await;
    assert_eq!(total(&third), total(&first), "without the fault, no _since is no _since");
}

#[tokio::test]
async fn the_capability_statement_lists_every_type_served() {
    let sim = start(config(5)).await;
    let cs: Value = http().get(format!("{}/metadata", sim.base_url())).send().await.unwrap().json().await.unwrap();
    let resources = cs["rest"][0]["resource"].as_array().unwrap();
    let listed = |t: &str| resources.iter().find(|r| r["type"] == t);
    for t in sim.resource_counts().keys().map(String::as_str).chain(["Group"]) {
        assert!(listed(t).is_some(), "{t} is not listed");
    }
    assert!(listed("Observation").is_some() && listed("Condition").is_some());
    let export_op = |t: &str| listed(t).unwrap()["operation"][0]["definition"].clone();
    assert_eq!(export_op("Patient"), "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export");
    assert_eq!(export_op("Group"), "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export");
    assert_eq!(cs["rest"][0]["operation"][0]["name"], "export");
}
