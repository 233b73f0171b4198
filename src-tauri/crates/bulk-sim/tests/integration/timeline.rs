//! The timeline over real HTTP: epochs of updates, creations and deletions show in full exports, incremental
//! ones (`_since`, `_until`) see exactly the later changes with real `deleted[]` entries, group rosters move,
//! and the same seed gives the same epochs.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use bulk_sim::{DataSource, EpochChanges, ResourceChange, RunningSim, SimConfig};
use common::{all_outputs, config, download, http, kickoff, manifest, start};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// (type, id)
type Key = (String, String);

fn key_of(c: &ResourceChange) -> Key {
    (c.resource_type.clone(), c.id.clone())
}

/// Exports and returns the manifest and every resource by (type, id).
async fn export(sim: &RunningSim, path_and_query: &str) -> (Value, BTreeMap<Key, Value>) {
    let (m, _) = manifest(&kickoff(sim, path_and_query, None).await, None).await;
    let mut resources = BTreeMap::new();
    for (t, list) in all_outputs(&m, None).await {
        for r in list {
            let id = r["id"].as_str().unwrap().to_string();
            assert!(resources.insert((t.clone(), id), r).is_none(), "each resource once");
        }
    }
    (m, resources)
}

/// `Type/id` of the manifest's `deleted[]` entries.
async fn deleted_urls(m: &Value) -> BTreeSet<String> {
    let mut urls = BTreeSet::new();
    for file in m["deleted"].as_array().unwrap() {
        for bundle in download(file["url"].as_str().unwrap(), None).await {
            assert_eq!(bundle["type"], "transaction");
            for entry in bundle["entry"].as_array().unwrap() {
                assert_eq!(entry["request"]["method"], "DELETE");
                urls.insert(entry["request"]["url"].as_str().unwrap().to_string());
            }
        }
    }
    urls
}

/// The roster `GET Group/<id>` lists, checked against its `quantity`.
async fn members(sim: &RunningSim, group: &str) -> BTreeSet<String> {
    let g: Value = http().get(format!("{}/Group/{group}", sim.base_url())).send().await.unwrap().json().await.unwrap();
    let ids: BTreeSet<String> = g["member"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["entity"]["reference"].as_str().unwrap().strip_prefix("Patient/").unwrap().to_string())
        .collect();
    assert_eq!(g["quantity"].as_u64().unwrap(), ids.len() as u64);
    ids
}

async fn advance_over_http(sim: &RunningSim) -> EpochChanges {
    let url = format!("{}/_sim/timeline/advance", sim.base_url().trim_end_matches("/fhir"));
    let res = http().post(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn instant(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A resource without what an update may change, to compare versions.
fn unrevised(r: &Value) -> Value {
    let mut r = r.clone();
    for field in ["meta", "extension", "status", "docStatus", "note", "telecom"] {
        r.as_object_mut().unwrap().remove(field);
    }
    r
}

#[tokio::test]
async fn exports_follow_the_epochs_and_incrementals_see_exactly_the_later_changes() {
    let sim = start(config(200)).await;
    let (m0, base) = export(&sim, "$export").await;
    let t0 = m0["transactionTime"].as_str().unwrap().to_string();
    let roster0 = members(&sim, "aco-north").await;

    let e1 = sim.advance_timeline().unwrap();
    assert_eq!(e1.epoch, 1);
    assert!(instant(&e1.stamp) > instant(&t0), "an epoch comes after the exports before it");
    let (m1, _) = export(&sim, "Group/aco-north/$export?_type=Patient").await;
    let t1 = m1["transactionTime"].as_str().unwrap().to_string();
    let e2 = advance_over_http(&sim).await;
    assert_eq!(e2.epoch, 2);
    assert!(e2.stamp.ends_with('Z') && e2.stamp.len() == "2026-11-30T07:20:00.123Z".len(), "{}", e2.stamp);
    assert!(instant(&e1.stamp) <= instant(&t1) && instant(&t1) < instant(&e2.stamp));
    for e in [&e1, &e2] {
        assert!(!e.updated.is_empty() && !e.created.is_empty() && !e.deleted.is_empty(), "{e:?}");
        assert!(e.updated.iter().any(|c| c.resource_type == "Patient"), "Patients change too");
        assert!(e.deleted.iter().all(|c| c.resource_type != "Patient"), "Patients are never deleted");
    }

    // The state after epoch 2, from the first export and the two epochs' reports.
    let mut expected: BTreeMap<Key, Option<Value>> = base.into_iter().map(|(k, v)| (k, Some(v))).collect();
    let mut revised: BTreeMap<Key, &EpochChanges> = BTreeMap::new();
    let mut created: BTreeMap<Key, (&EpochChanges, &str)> = BTreeMap::new();
    for e in [&e1, &e2] {
        for c in &e.deleted {
            assert!(expected.remove(&key_of(c)).is_some(), "deleted while there: {c:?}");
            revised.remove(&key_of(c));
            created.remove(&key_of(c));
        }
        for c in &e.updated {
            assert!(expected.contains_key(&key_of(c)), "updated while there: {c:?}");
            revised.insert(key_of(c), e);
        }
        for c in &e.created {
            assert!(expected.insert(key_of(c), None).is_none(), "created anew: {c:?}");
            created.insert(key_of(c), (e, &c.patient));
        }
    }
    let (_, full) = export(&sim, "$export").await;
    assert_eq!(full.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (key, now) in &full {
        let latest = revised.get(key);
        if let Some(e) = latest {
            assert_eq!(now["meta"]["versionId"], (e.epoch + 1).to_string(), "{key:?}");
            assert_eq!(now["meta"]["lastUpdated"], e.stamp, "{key:?}");
            assert_eq!(now["extension"].as_array().unwrap().last().unwrap()["valueInteger"], e.epoch);
        }
        match (&expected[key], created.get(key)) {
            (Some(before), _) if latest.is_none() => assert_eq!(now, before, "unchanged: {key:?}"),
            (Some(before), _) => assert_eq!(unrevised(now), unrevised(before), "only the update's change: {key:?}"),
            (None, Some((made, patient))) => {
                assert_eq!(now["subject"]["reference"], format!("Patient/{patient}"));
                if latest.is_none() {
                    assert_eq!(now["meta"]["lastUpdated"], made.stamp);
                    assert_eq!(now["meta"]["versionId"], "1");
                }
            }
            (None, None) => unreachable!("every new key was created"),
        }
    }
    let counts: BTreeMap<String, u64> = full.keys().fold(BTreeMap::new(), |mut counts, (t, _)| {
        *counts.entry(t.clone()).or_default() += 1;
        counts
    });
    assert_eq!(sim.resource_counts(), counts);

    // The roster moved: epoch by epoch, joiners in and leavers out, as `GET Group/aco-north` lists it.
    let mut roster = roster0.clone();
    for e in [&e1, &e2] {
        for p in &e.joined["aco-north"] {
            assert!(roster.insert(p.clone()), "{p} joined from outside");
        }
        for p in &e.left["aco-north"] {
            assert!(roster.remove(p), "{p} left from inside");
        }
    }
    let roster2 = members(&sim, "aco-north").await;
    assert_eq!(roster2, roster);
    assert!(roster2.difference(&roster0).count() > 0 && roster0.difference(&roster2).count() > 0);
    assert!(e1.joined.contains_key("diabetes-registry") && !e1.joined.contains_key("all-patients"));
    let (_, patients) = export(&sim, "Group/aco-north/$export?_type=Patient").await;
    let exported: BTreeSet<String> = patients.keys().map(|(_, id)| id.clone()).collect();
    assert_eq!(exported, roster2, "a group export covers its current members");

    // `_since` = the transactionTime of the export after epoch 1: exactly epoch 2's changes to current members.
    let (m2, incremental) = export(&sim, &format!("Group/aco-north/$export?_since={}", query_value(&t1))).await;
    let in_group = |c: &&ResourceChange| roster2.contains(&c.patient);
    let changed: BTreeSet<Key> = e2.updated.iter().chain(&e2.created).filter(in_group).map(key_of).collect();
    assert_eq!(incremental.keys().cloned().collect::<BTreeSet<_>>(), changed);
    assert!(incremental.values().all(|r| r["meta"]["lastUpdated"] == e2.stamp));
    let gone: BTreeSet<String> =
        e2.deleted.iter().filter(in_group).map(|c| format!("{}/{}", c.resource_type, c.id)).collect();
    assert!(!gone.is_empty());
    assert_eq!(deleted_urls(&m2).await, gone, "deleted[]: epoch 2's deletions in the group, and no leavers");

    // `_since` and `_until` around epoch 1: its Condition changes that epoch 2 did not touch again.
    let query = format!("$export?_type=Condition&_since={}&_until={}", query_value(&t0), query_value(&t1));
    let (m, window) = export(&sim, &query).await;
    let touched_again: BTreeSet<Key> = e2.updated.iter().chain(&e2.deleted).map(key_of).collect();
    let conditions = |list: &[ResourceChange]| -> BTreeSet<Key> {
        list.iter().filter(|c| c.resource_type == "Condition").map(key_of).collect()
    };
    let expected: BTreeSet<Key> = conditions(&e1.updated).difference(&touched_again).cloned().collect();
    assert_eq!(window.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let gone: BTreeSet<String> = conditions(&e1.deleted).into_iter().map(|(t, id)| format!("{t}/{id}")).collect();
    assert_eq!(deleted_urls(&m).await, gone);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_epochs() {
    let without_stamp = |mut e: EpochChanges| {
        e.stamp.clear();
        e
    };
    let (a, b, other) = (
        start(config(120)).await,
        start(config(120)).await,
        start(SimConfig { data: DataSource::Generated { seed: 43, patients: 120 }, ..SimConfig::default() }).await,
    );
    for _ in 0..2 {
        let from_a = without_stamp(a.advance_timeline().unwrap());
        assert_eq!(from_a, without_stamp(b.advance_timeline().unwrap()));
        assert_ne!(from_a, without_stamp(other.advance_timeline().unwrap()));
    }
    let versions = |resources: BTreeMap<Key, Value>| -> BTreeMap<Key, Value> {
        resources.into_iter().map(|(k, v)| (k, v["meta"]["versionId"].clone())).collect()
    };
    let (_, from_a) = export(&a, "$export?_type=Patient,Observation").await;
    let (_, from_b) = export(&b, "$export?_type=Patient,Observation").await;
    assert_eq!(versions(from_a), versions(from_b));
    assert_eq!(members(&a, "aco-south").await, members(&b, "aco-south").await);
}

#[tokio::test]
async fn a_folder_source_has_no_timeline() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Patient.ndjson"),
        r#"{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2024-01-01T00:00:00Z"}}"#,
    )
    .unwrap();
    let sim = start(SimConfig { data: DataSource::Folder(dir.path().to_path_buf()), ..SimConfig::default() }).await;
    assert!(sim.advance_timeline().unwrap_err().contains("generated"));
    let url = format!("{}/_sim/timeline/advance", sim.base_url().trim_end_matches("/fhir"));
    let res = http().post(url).send().await.unwrap();
    assert_eq!(res.status(), 409);
    let oo: Value = res.json().await.unwrap();
    assert_eq!(oo["resourceType"], "OperationOutcome");
}
