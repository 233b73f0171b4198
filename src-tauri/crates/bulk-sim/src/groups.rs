//! `Group` search (name, identifier, `_count`, paging with `next` links) and read, and the group an export names.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::source::GroupDef;
use crate::{Sim, auth, fhir_json, outcome};

pub async fn search(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = auth::check_bearer(&sim, &headers) {
        return *r;
    }
    let count: usize = q.get("_count").and_then(|v| v.parse().ok()).unwrap_or(20).clamp(1, 500);
    let offset: usize = q.get("_offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let name = q.get("name").map(|s| s.to_lowercase());
    let identifier = q.get("identifier");
    let matches = |g: &GroupDef| {
        // FHIR string search: starts-with (here: of the name or of any word in it), case-insensitive.
        let name_ok = name.as_ref().is_none_or(|n| {
            let lower = g.name.to_lowercase();
            lower.starts_with(n.as_str()) || lower.split_whitespace().any(|w| w.starts_with(n.as_str()))
        });
        let id_ok = identifier.is_none_or(|i| {
            let value = i.rsplit_once('|').map_or(i.as_str(), |(_, v)| v);
            g.identifier == value
        });
        name_ok && id_ok
    };
    let found: Vec<&GroupDef> = sim.source.groups().iter().filter(|g| matches(g)).collect();
    let base = sim.base_url();
    let at = sim.timeline().epochs();
    let page: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(count)
        .map(|g| {
            // Search results carry the roster's size, not its members.
            let resource = sim.source.group_resource(g, false, &at);
            json!({"fullUrl": format!("{base}/Group/{}", g.id), "resource": resource, "search": {"mode": "match"}})
        })
        .collect();
    let mut params: Vec<(String, String)> =
        q.iter().filter(|(k, _)| *k != "_offset").map(|(k, v)| (k.clone(), v.clone())).collect();
    params.sort();
    let link = |offset: usize| {
        let mut all = params.clone();
        all.push(("_offset".into(), offset.to_string()));
        let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(all).finish();
        format!("{base}/Group?{query}")
    };
    let mut links = vec![json!({"relation": "self", "url": link(offset)})];
    if offset + count < found.len() {
        links.push(json!({"relation": "next", "url": link(offset + count)}));
    }
    fhir_json(
        StatusCode::OK,
        json!({"resourceType": "Bundle", "type": "searchset", "total": found.len(), "link": links, "entry": page}),
    )
}

pub async fn read(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = auth::check_bearer(&sim, &headers) {
        return *r;
    }
    let at = sim.timeline().epochs();
    match sim.source.group(&id) {
        Some(g) => fhir_json(StatusCode::OK, sim.source.group_resource(g, true, &at)),
        None => outcome::response(StatusCode::NOT_FOUND, "error", "not-found", &format!("Group/{id} is not known")),
    }
}

/// BCDA's group id for "all enrollees attributed to you": every patient the client may see.
const BCDA_ALL: &str = "all";

/// The group `Group/[id]/$export` exports. Besides the source's own groups, BCDA's `all` (unless the source
/// has a group of that id): every patient, since every client here may see every patient. It is found only
/// for exports, as on BCDA, which has no Group search or read.
pub fn for_export(sim: &Sim, id: &str) -> Option<GroupDef> {
    if let Some(g) = sim.source.group(id) {
        return Some(g.clone());
    }
    if id != BCDA_ALL {
        return None;
    }
    // Both sources put every patient in `all-patients`.
    let everyone = sim.source.group("all-patients")?;
    Some(GroupDef { id: BCDA_ALL.into(), ..everyone.clone() })
}
