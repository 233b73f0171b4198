//! What one epoch changed, as `advance` reports it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Epochs;
use super::fate::{CREATED_TYPE, Standing, created_id, creates, standing};
use crate::generate::Generated;
use crate::source::{GroupDef, generated_membership};

/// One resource an epoch touched, and the patient whose compartment it is in (the patient's own id for a
/// Patient), so that a test can tell which exports should show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    #[serde(rename = "resourceType")]
    pub resource_type: String,
    pub id: String,
    pub patient: String,
}

/// What one advance of the timeline changed ([`RunningSim::advance_timeline`](crate::RunningSim::advance_timeline),
/// `POST /_sim/timeline/advance`). Everything but `stamp` follows from the seed and the epoch's number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochChanges {
    /// 1 for the first advance, then 2, …
    pub epoch: u64,
    /// When the epoch happened, as a FHIR instant: the `meta.lastUpdated` of what it updated or created, and
    /// the time of its deletions.
    pub stamp: String,
    /// Resources that have a new version (`meta.versionId` = epoch + 1).
    pub updated: Vec<ResourceChange>,
    pub created: Vec<ResourceChange>,
    /// Resources gone from every export from now on (listed in `deleted[]` of incremental exports).
    pub deleted: Vec<ResourceChange>,
    /// Patient ids who joined, and who left, per group whose roster changes (every such group is listed,
    /// with empty lists when nobody moved).
    pub joined: BTreeMap<String, Vec<String>>,
    pub left: BTreeMap<String, Vec<String>>,
}

/// What the latest epoch of `at` changed.
pub fn changes(data: &Generated, groups: &[GroupDef], at: &Epochs) -> EpochChanges {
    let n = at.latest();
    let seed = data.seed;
    let changing: Vec<&GroupDef> = groups.iter().filter(|g| g.members.changes_over_time()).collect();
    let mut report = EpochChanges {
        epoch: n,
        stamp: at.get(n).instant(),
        updated: Vec::new(),
        created: Vec::new(),
        deleted: Vec::new(),
        joined: changing.iter().map(|g| (g.id.clone(), Vec::new())).collect(),
        left: changing.iter().map(|g| (g.id.clone(), Vec::new())).collect(),
    };
    for i in 0..data.patients {
        let pid = Generated::patient_id(i);
        let mut consider = |resource_type: &str, id: String, born: u64| {
            let Standing::Live { .. } = standing(seed, born, n - 1, resource_type, &id) else { return };
            let change = |id| ResourceChange { resource_type: resource_type.to_string(), id, patient: pid.clone() };
            match standing(seed, n - 1, n, resource_type, &id) {
                Standing::Deleted(_) => report.deleted.push(change(id)),
                Standing::Live { revised: Some(_) } => report.updated.push(change(id)),
                Standing::Live { revised: None } => {}
            }
        };
        data.patient_resource_ids(i, |t, id| consider(t, id, 0));
        for c in (1..n).filter(|&c| creates(seed, c, i)) {
            consider(CREATED_TYPE, created_id(c, &pid), c);
        }
        if creates(seed, n, i) {
            let id = created_id(n, &pid);
            report.created.push(ResourceChange { resource_type: CREATED_TYPE.into(), id, patient: pid.clone() });
        }
        for g in &changing {
            let before = generated_membership(data, g, i, n - 1).0;
            let after = generated_membership(data, g, i, n).0;
            let moved = match (before, after) {
                (false, true) => report.joined.get_mut(&g.id),
                (true, false) => report.left.get_mut(&g.id),
                _ => None,
            };
            if let Some(list) = moved {
                list.push(pid.clone());
            }
        }
    }
    report
}
