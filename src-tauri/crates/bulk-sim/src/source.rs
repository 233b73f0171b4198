//! The data behind the simulator: generated, or read from a folder of NDJSON files, and the groups. The
//! generated data as it stands after the timeline's epochs (`crate::timeline`): what changed, and who is in which
//! group now.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::DataSource;
use crate::generate::{Generated, SHARED_TYPES, TYPES};
use crate::rng::Rng;
use crate::timeline::{self, Epoch, Epochs};

const STREAM_GROUPS: u64 = 9;

/// Who is in a group.
#[derive(Debug, Clone)]
pub enum Members {
    All,
    /// Generated patients whose group bucket (0..100) is in `lo..hi`.
    Buckets(u64, u64),
    Ids(HashSet<String>),
}

impl Members {
    /// Members join and leave over the timeline's epochs (whole populations and fixed lists stay).
    pub fn changes_over_time(&self) -> bool {
        matches!(self, Members::Buckets(..))
    }
}

#[derive(Debug, Clone)]
pub struct GroupDef {
    pub id: String,
    pub name: String,
    pub identifier: String,
    pub members: Members,
    /// Members before the timeline's first epoch.
    pub quantity: u64,
    /// The folder's own Group resource, served as is.
    pub resource: Option<Value>,
}

/// What an export covers.
pub struct Scope<'a> {
    /// System level: every resource, shared ones included.
    pub system: bool,
    pub group: Option<&'a GroupDef>,
    /// `patient=` ids (POST): only these patients.
    pub patients: Option<HashSet<String>>,
    /// The timeline's epochs the export sees: the data as it stands after them.
    pub at: Epochs,
}

/// A group's membership as its resource shows it.
struct Roster<'a> {
    quantity: u64,
    /// Member ids, sorted, when listed.
    ids: Option<Vec<String>>,
    /// The epoch that last changed the membership (`None`: as loaded).
    changed: Option<&'a Epoch>,
}

pub enum Source {
    Generated { data: Generated, groups: Vec<GroupDef> },
    Folder { files: Vec<(String, PathBuf)>, groups: Vec<GroupDef>, counts: BTreeMap<String, u64> },
}

impl Source {
    pub fn load(config: &DataSource) -> Result<Self, String> {
        match config {
            DataSource::Generated { seed, patients } => {
                let data = Generated::new(*seed, *patients);
                let mut groups = vec![
                    group_def("all-patients", "All patients", "ALL", Members::All),
                    group_def("aco-north", "ACO North Regional", "ACO-NORTH-2026", Members::Buckets(0, 30)),
                    group_def("aco-south", "ACO South Valley", "ACO-SOUTH-2026", Members::Buckets(30, 42)),
                    group_def(
                        "aco-small-practice",
                        "ACO Small Practice Pilot",
                        "ACO-SPP-2026",
                        Members::Buckets(42, 45),
                    ),
                    group_def("diabetes-registry", "Diabetes Registry", "REG-DM2", Members::Buckets(45, 53)),
                ];
                for g in &mut groups {
                    g.quantity = (0..data.patients).filter(|&i| generated_member(&data, &g.members, i)).count() as u64;
                }
                Ok(Source::Generated { data, groups })
            }
            DataSource::Folder(dir) => load_folder(dir),
        }
    }

    pub fn groups(&self) -> &[GroupDef] {
        match self {
            Source::Generated { groups, .. } | Source::Folder { groups, .. } => groups,
        }
    }

    pub fn group(&self, id: &str) -> Option<&GroupDef> {
        self.groups().iter().find(|g| g.id == id)
    }

    /// Every resource type this source has.
    pub fn types(&self) -> Vec<String> {
        match self {
            Source::Generated { .. } => TYPES.iter().map(|t| t.to_string()).collect(),
            Source::Folder { counts, .. } => counts.keys().cloned().collect(),
        }
    }

    /// Resources per type in a full system-level export after the epochs `at`.
    pub fn counts(&self, at: &Epochs) -> BTreeMap<String, u64> {
        match self {
            // Updates and deletions are decided per resource: counting them means walking the data.
            Source::Generated { .. } if !at.is_empty() => {
                let mut counts: BTreeMap<String, u64> = BTreeMap::new();
                let scope = Scope { system: true, group: None, patients: None, at: at.clone() };
                let _ = self.each_resource(&scope, &|_| true, &mut |t, _| {
                    *counts.entry(t.to_string()).or_default() += 1;
                    ControlFlow::Continue(())
                });
                counts
            }
            Source::Generated { data, .. } => {
                let mut counts: BTreeMap<String, u64> = BTreeMap::new();
                for t in SHARED_TYPES {
                    counts.insert(t.to_string(), data.shared_count(t));
                }
                for i in 0..data.patients {
                    let c = data.counts(i);
                    for t in TYPES.iter().filter(|t| !SHARED_TYPES.contains(t)) {
                        *counts.entry(t.to_string()).or_default() += c.of(t);
                    }
                }
                counts
            }
            Source::Folder { counts, .. } => counts.clone(),
        }
    }

    /// The Group resource after the epochs `at`; `with_members` lists the roster (reads do, search results do not).
    pub fn group_resource(&self, g: &GroupDef, with_members: bool, at: &Epochs) -> Value {
        if let Some(resource) = &g.resource {
            let mut resource = resource.clone();
            if !with_members && let Some(o) = resource.as_object_mut() {
                o.remove("member");
            }
            return resource;
        }
        let roster = self.roster(g, at, with_members);
        let updated = roster.changed.map_or_else(|| "2026-11-01T00:00:00.000Z".to_string(), Epoch::instant);
        let mut group = json!({
            "resourceType": "Group",
            "id": g.id,
            "meta": {"lastUpdated": updated},
            "identifier": [{"system": "urn:haul:bulk-sim:group", "value": g.identifier}],
            "active": true,
            "type": "person",
            "actual": true,
            "name": g.name,
            "quantity": roster.quantity
        });
        if let Some(ids) = roster.ids {
            let members: Vec<Value> =
                ids.into_iter().map(|id| json!({"entity": {"reference": format!("Patient/{id}")}})).collect();
            group["member"] = Value::Array(members);
        }
        group
    }

    /// Who is in `g` after the epochs `at`; the member ids only when `list` and there are not too many.
    fn roster<'a>(&self, g: &GroupDef, at: &'a Epochs, list: bool) -> Roster<'a> {
        // Rosters are listed when small enough to be useful; a server never lists a million members.
        let listed = |quantity: u64| list && quantity <= 10_000;
        match self {
            Source::Generated { data, .. } if !at.is_empty() && g.members.changes_over_time() => {
                // The count itself has moved: every patient's membership is worked out, the ids kept.
                let mut last_change = None;
                let mut ids = Vec::new();
                for i in 0..data.patients {
                    let (member, changed) = generated_membership(data, g, i, at.latest());
                    last_change = last_change.max(changed);
                    if member {
                        ids.push(Generated::patient_id(i));
                    }
                }
                let quantity = ids.len() as u64;
                Roster { quantity, ids: listed(quantity).then_some(ids), changed: last_change.map(|e| at.get(e)) }
            }
            Source::Generated { data, .. } => {
                let ids = listed(g.quantity).then(|| {
                    (0..data.patients)
                        .filter(|&i| generated_member(data, &g.members, i))
                        .map(Generated::patient_id)
                        .collect()
                });
                Roster { quantity: g.quantity, ids, changed: None }
            }
            Source::Folder { .. } => {
                let ids = listed(g.quantity).then(|| match &g.members {
                    Members::Ids(ids) => {
                        let mut v: Vec<String> = ids.iter().cloned().collect();
                        v.sort();
                        v
                    }
                    _ => Vec::new(),
                });
                Roster { quantity: g.quantity, ids, changed: None }
            }
        }
    }

    /// Calls `out` with every resource in scope whose type is wanted, as it stands after the scope's epochs
    /// (deleted ones left out); `out` may stop the walk.
    pub fn each_resource(
        &self,
        scope: &Scope<'_>,
        wanted: &dyn Fn(&str) -> bool,
        out: &mut dyn FnMut(&str, Value) -> ControlFlow<()>,
    ) -> Result<(), String> {
        match self {
            Source::Generated { data, .. } => {
                if scope.system {
                    for t in SHARED_TYPES.iter().filter(|t| wanted(t)) {
                        for k in 0..data.shared_count(t) {
                            if out(t, data.shared(t, k)).is_break() {
                                return Ok(());
                            }
                        }
                    }
                }
                let (seed, at) = (data.seed, &scope.at);
                let mut stop = false;
                for i in patients_in_scope(data, scope) {
                    data.patient_resources(i, wanted, |t, v| {
                        if !stop
                            && let Some(v) = timeline::current(seed, at, 0, t, v)
                            && out(t, v).is_break()
                        {
                            stop = true;
                        }
                    });
                    if !stop && !at.is_empty() && wanted(timeline::CREATED_TYPE) {
                        timeline::additions(seed, at, i, &Generated::patient_id(i), |v| {
                            if !stop && out(timeline::CREATED_TYPE, v).is_break() {
                                stop = true;
                            }
                        });
                    }
                    if stop {
                        break;
                    }
                }
                Ok(())
            }
            Source::Folder { files, .. } => {
                for (t, path) in files.iter().filter(|(t, _)| wanted(t)) {
                    for (n, line) in lines(path)?.enumerate() {
                        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
                        if line.trim().is_empty() {
                            continue;
                        }
                        let value: Value = serde_json::from_str(&line)
                            .map_err(|e| format!("{} line {}: {e}", path.display(), n + 1))?;
                        if !in_scope(&value, t, scope) {
                            continue;
                        }
                        if out(t, value).is_break() {
                            return Ok(());
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Calls `out` with the type and id of every resource in scope whose type is wanted and that the scope's
    /// epochs deleted, with the epoch that deleted it. A folder's data has no timeline, so nothing.
    pub fn each_deletion(
        &self,
        scope: &Scope<'_>,
        wanted: &dyn Fn(&str) -> bool,
        out: &mut dyn FnMut(&str, &str, &Epoch),
    ) {
        let Source::Generated { data, .. } = self else { return };
        let (seed, at, upto) = (data.seed, &scope.at, scope.at.latest());
        if upto == 0 {
            return;
        }
        let mut consider = |t: &str, id: &str, born: u64| {
            if wanted(t)
                && let timeline::Standing::Deleted(e) = timeline::standing(seed, born, upto, t, id)
            {
                out(t, id, at.get(e));
            }
        };
        for i in patients_in_scope(data, scope) {
            data.patient_resource_ids(i, |t, id| consider(t, &id, 0));
            let pid = Generated::patient_id(i);
            for e in (1..=upto).filter(|&e| timeline::creates(seed, e, i)) {
                consider(timeline::CREATED_TYPE, &timeline::created_id(e, &pid), e);
            }
        }
    }
}

/// The generated patients an export covers: the `patient=` list or everyone, less those not in its group
/// after its epochs.
fn patients_in_scope<'a>(data: &'a Generated, scope: &'a Scope<'_>) -> Box<dyn Iterator<Item = u64> + 'a> {
    let indices: Box<dyn Iterator<Item = u64>> = match &scope.patients {
        Some(ids) => {
            let mut v: Vec<u64> = ids.iter().filter_map(|id| data.patient_index(id)).collect();
            v.sort_unstable();
            Box::new(v.into_iter())
        }
        None => Box::new(0..data.patients),
    };
    match scope.group {
        Some(g) => {
            let upto = scope.at.latest();
            Box::new(indices.filter(move |&i| generated_membership(data, g, i, upto).0))
        }
        None => indices,
    }
}

fn group_def(id: &str, name: &str, identifier: &str, members: Members) -> GroupDef {
    GroupDef { id: id.into(), name: name.into(), identifier: identifier.into(), members, quantity: 0, resource: None }
}

/// Whether generated patient `i` is in `g` after epoch `upto`, and the last epoch that changed that.
pub fn generated_membership(data: &Generated, g: &GroupDef, i: u64, upto: u64) -> (bool, Option<u64>) {
    let initially = generated_member(data, &g.members, i);
    if upto == 0 || !g.members.changes_over_time() {
        return (initially, None);
    }
    timeline::membership(data.seed, &g.id, i, initially, upto)
}

fn generated_member(data: &Generated, members: &Members, i: u64) -> bool {
    match members {
        Members::All => true,
        Members::Buckets(lo, hi) => {
            let bucket = Rng::derive(data.seed, STREAM_GROUPS, i).next_u64() % 100;
            (*lo..*hi).contains(&bucket)
        }
        Members::Ids(ids) => ids.contains(&Generated::patient_id(i)),
    }
}

/// The patient a resource belongs to: a Patient's own id, else the first top-level reference to a Patient.
pub fn patient_of(resource: &Value, resource_type: &str) -> Option<String> {
    if resource_type == "Patient" {
        return resource.get("id")?.as_str().map(str::to_string);
    }
    for field in ["subject", "patient", "beneficiary"] {
        if let Some(id) = resource
            .pointer(&format!("/{field}/reference"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("Patient/"))
        {
            return Some(id.to_string());
        }
    }
    None
}

fn in_scope(resource: &Value, resource_type: &str, scope: &Scope<'_>) -> bool {
    let patient = patient_of(resource, resource_type);
    if scope.system && scope.patients.is_none() {
        return true;
    }
    let Some(patient) = patient else { return false };
    if let Some(ids) = &scope.patients
        && !ids.contains(&patient)
    {
        return false;
    }
    match scope.group.map(|g| &g.members) {
        Some(Members::Ids(ids)) => ids.contains(&patient),
        _ => true,
    }
}

fn lines(path: &Path) -> Result<std::io::Lines<BufReader<Box<dyn Read>>>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(BufReader::with_capacity(256 * 1024, reader).lines())
}

fn load_folder(dir: &Path) -> Result<Source, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !(name.ends_with(".ndjson") || name.ends_with(".ndjson.gz")) {
            continue;
        }
        let resource_type: String = name.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        if resource_type.is_empty() {
            continue;
        }
        files.push((resource_type, entry.path()));
    }
    if files.is_empty() {
        return Err(format!("the folder {} has no .ndjson or .ndjson.gz files", dir.display()));
    }
    files.sort();
    // One pass to count and to collect patients and Group resources.
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut patients = HashSet::new();
    let mut groups = Vec::new();
    for (t, path) in &files {
        for line in lines(path)? {
            let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            *counts.entry(t.clone()).or_default() += 1;
            if t == "Patient" || t == "Group" {
                let v: Value = serde_json::from_str(&line).map_err(|e| format!("{}: {e}", path.display()))?;
                if t == "Patient" {
                    if let Some(id) = v.get("id").and_then(Value::as_str) {
                        patients.insert(id.to_string());
                    }
                } else {
                    let ids: HashSet<String> = v
                        .get("member")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m.pointer("/entity/reference").and_then(Value::as_str))
                        .filter_map(|r| r.strip_prefix("Patient/"))
                        .map(str::to_string)
                        .collect();
                    let id = v.get("id").and_then(Value::as_str).unwrap_or("group").to_string();
                    let name = v.get("name").and_then(Value::as_str).unwrap_or(&id).to_string();
                    let identifier =
                        v.pointer("/identifier/0/value").and_then(Value::as_str).unwrap_or(&id).to_string();
                    groups.push(GroupDef {
                        id,
                        name,
                        identifier,
                        quantity: ids.len() as u64,
                        members: Members::Ids(ids),
                        resource: Some(v),
                    });
                }
            }
        }
    }
    let all = GroupDef {
        id: "all-patients".into(),
        name: "All patients".into(),
        identifier: "ALL".into(),
        quantity: patients.len() as u64,
        members: Members::Ids(patients),
        resource: None,
    };
    groups.insert(0, all);
    Ok(Source::Folder { files, groups, counts })
}
