//! `Group` search: the rosters a server offers for `Group/[id]/$export`, a page at a time; and a Group's
//! members, to tell who joined or left since the last export.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::error::excerpt;
use crate::session::{ExportError, ExportErrorKind, ExportSession};

/// One Group, as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct GroupSummary {
    pub id: String,
    pub name: Option<String>,
    /// The first identifier, as `system|value` or the bare value.
    pub identifier: Option<String>,
    /// `quantity`: how many members.
    #[ts(type = "number | null")]
    pub members: Option<u64>,
    /// `type`: person, practitioner, device, …
    pub kind: Option<String>,
    pub actual: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct GroupPage {
    pub groups: Vec<GroupSummary>,
    #[ts(type = "number | null")]
    pub total: Option<u64>,
    /// The server's link to the next page, if there is one.
    pub next: Option<String>,
}

fn summary(resource: &Value) -> Option<GroupSummary> {
    if resource.get("resourceType")?.as_str()? != "Group" {
        return None;
    }
    let text = |k: &str| resource.get(k).and_then(Value::as_str).map(str::to_string);
    let identifier = resource.get("identifier").and_then(Value::as_array).and_then(|ids| ids.first()).and_then(|i| {
        let value = i.get("value")?.as_str()?;
        Some(match i.get("system").and_then(Value::as_str) {
            Some(system) => format!("{system}|{value}"),
            None => value.to_string(),
        })
    });
    Some(GroupSummary {
        id: text("id")?,
        name: text("name"),
        identifier,
        members: resource.get("quantity").and_then(Value::as_u64),
        kind: text("type"),
        actual: resource.get("actual").and_then(Value::as_bool),
    })
}

/// Reads a searchset Bundle into a page.
pub fn parse_group_page(body: &[u8]) -> Result<GroupPage, String> {
    let bundle: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err("not a Bundle".into());
    }
    let groups = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(|e| e.get("resource").and_then(summary)).collect())
        .unwrap_or_default();
    let next = bundle.get("link").and_then(Value::as_array).and_then(|links| {
        links
            .iter()
            .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
            .and_then(|l| l.get("url")?.as_str().map(str::to_string))
    });
    Ok(GroupPage { groups, total: bundle.get("total").and_then(Value::as_u64), next })
}

impl ExportSession {
    /// `GET [base]/Group?name=…&_count=…`, or the server's `next` link for the following page. Errors carry
    /// no secret, even when the server echoes one back.
    pub async fn search_groups(&self, name: Option<&str>, page_url: Option<&str>) -> Result<GroupPage, ExportError> {
        self.search_groups_once(name, page_url).await.map_err(|e| self.scrub(e))
    }

    async fn search_groups_once(&self, name: Option<&str>, page_url: Option<&str>) -> Result<GroupPage, ExportError> {
        let url = match page_url {
            Some(next) => {
                // Only follow links into the same server: a page link elsewhere would get our token.
                let same = url::Url::parse(next).ok().map(|u| u.origin())
                    == url::Url::parse(self.base_url()).ok().map(|u| u.origin());
                if !same {
                    return Err(ExportError::new(
                        ExportErrorKind::Protocol,
                        "The server's next-page link points at another server; Haul does not follow it.",
                        Some(next.to_string()),
                    ));
                }
                next.to_string()
            }
            None => {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                q.append_pair("_count", "50");
                if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
                    q.append_pair("name", n);
                }
                format!("{}/Group?{}", self.base_url(), q.finish())
            }
        };
        let response = self.get_json(&url, "the server's Groups").await?;
        let status = response.status();
        if !status.is_success() {
            let body = crate::session::read_small(response).await;
            return Err(crate::session::refusal("list its Groups", status, &body));
        }
        let body = read_group_body(response, "A page of the server's Groups is", "The list of Groups").await?;
        parse_group_page(&body).map_err(|why| {
            ExportError::new(
                ExportErrorKind::Protocol,
                format!("The server's answer to a Group search is not a FHIR Bundle ({why})."),
                Some(excerpt(&body)),
            )
        })
    }
}

/// A Group resource (or a page of them) larger than this is not read (a million members is about 60 MB).
const MAX_GROUP_BYTES: u64 = 64 << 20;

/// A Group answer's body, at most [`MAX_GROUP_BYTES`]; `what_is` and `reading` name it in the errors.
async fn read_group_body(response: reqwest::Response, what_is: &str, reading: &str) -> Result<Vec<u8>, ExportError> {
    crate::session::read_capped(response, MAX_GROUP_BYTES).await.map_err(|e| match e {
        crate::session::Capped::Over => ExportError::new(
            ExportErrorKind::Protocol,
            format!("{what_is} larger than {} MB, so Haul did not read it.", MAX_GROUP_BYTES >> 20),
            None,
        ),
        crate::session::Capped::Transport(e) => {
            ExportError::new(ExportErrorKind::Network, format!("{reading} broke off; try again."), Some(e.to_string()))
        }
    })
}

#[derive(Deserialize)]
struct GroupBody {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    member: Option<Vec<GroupMember>>,
    quantity: Option<u64>,
}

#[derive(Deserialize)]
struct GroupMember {
    entity: Option<MemberReference>,
    inactive: Option<bool>,
}

#[derive(Deserialize)]
struct MemberReference {
    reference: Option<String>,
}

/// The patient ids a Group resource lists in `member[].entity` (inactive members left out); `None` when the
/// list is not there or not whole (no `member`, or fewer entries than its `quantity`): many servers leave
/// the roster out of large Groups, and taking that for "nobody" would make every patient a leaver. Read
/// into typed structs: only the references are kept in memory, whatever else the resource holds.
pub fn parse_group_members(body: &[u8]) -> Result<Option<BTreeSet<String>>, String> {
    let group: GroupBody = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if group.resource_type.as_deref() != Some("Group") {
        return Err("it is not a Group resource".into());
    }
    let Some(members) = group.member else { return Ok(None) };
    if group.quantity.is_some_and(|q| q > members.len() as u64) {
        return Ok(None);
    }
    Ok(Some(
        members
            .into_iter()
            .filter(|m| m.inactive != Some(true))
            .filter_map(|m| m.entity?.reference)
            .filter_map(|r| {
                let r = r.split("/_history/").next()?;
                let (kind, id) = r.trim_end_matches('/').rsplit_once('/')?;
                (kind.ends_with("Patient") && !id.is_empty()).then(|| id.to_string())
            })
            .collect(),
    ))
}

impl ExportSession {
    /// `GET [base]/Group/[id]`: its members now. `None` when the server does not let the Group be read (CMS
    /// BCDA's `all` is no resource; some servers allow `$export` only): who joined and left is then unknown.
    pub async fn group_members(&self, group_id: &str) -> Result<Option<BTreeSet<String>>, ExportError> {
        self.group_members_once(group_id).await.map_err(|e| self.scrub(e))
    }

    async fn group_members_once(&self, group_id: &str) -> Result<Option<BTreeSet<String>>, ExportError> {
        let url = format!("{}/Group/{}", self.base_url(), group_id);
        let response = self.get_json(&url, "the Group").await?;
        let status = response.status();
        if matches!(status.as_u16(), 400 | 403 | 404 | 405 | 410 | 501) {
            return Ok(None);
        }
        if !status.is_success() {
            let body = crate::session::read_small(response).await;
            return Err(crate::session::refusal("read the Group", status, &body));
        }
        let body = read_group_body(response, &format!("Group {group_id} is"), "Reading the Group").await?;
        parse_group_members(&body).map_err(|why| {
            ExportError::new(
                ExportErrorKind::Protocol,
                format!("The server's Group {group_id} could not be read ({why})."),
                Some(excerpt(&body)),
            )
        })
    }
}

/// A Group's name is looked up in at most this much of its resource: with `_elements=name` the server sends
/// a few hundred bytes; one that ignores `_elements` and sends a large roster is not read for a label.
const MAX_GROUP_NAME_READ: u64 = 1 << 20;

#[derive(Deserialize)]
struct GroupName {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    name: Option<String>,
}

/// A group's name as Haul keeps it, whoever gave it (a server, or the page the user picked it on): without
/// control characters, at most 200 characters, trimmed; `None` when nothing is left. It is only ever shown.
pub fn group_name_to_keep(raw: &str) -> Option<String> {
    let name: String = raw.chars().filter(|c| !c.is_control()).take(200).collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// A Group resource's `name`, as [`group_name_to_keep`] keeps it.
pub fn parse_group_name(body: &[u8]) -> Option<String> {
    let group: GroupName = serde_json::from_slice(body).ok()?;
    if group.resource_type.as_deref() != Some("Group") {
        return None;
    }
    group_name_to_keep(&group.name?)
}

impl ExportSession {
    /// `GET [base]/Group/[id]?_elements=name`: the group's name, to show instead of its id when the user
    /// typed the id. Best effort: `None` whenever the server does not say (no such read, no name, too large).
    pub async fn group_name(&self, group_id: &str) -> Option<String> {
        let url = format!("{}/Group/{}?_elements=name", self.base_url(), group_id);
        let response = self.get_json(&url, "the Group").await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body = crate::session::read_capped(response, MAX_GROUP_NAME_READ).await.ok()?;
        // A name is kept and shown: never one holding a secret the server echoed.
        parse_group_name(&body).filter(|n| !self.secrets().found_in(n.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_name_is_read_cleaned_and_only_from_a_group() {
        let name = |body: &str| parse_group_name(body.as_bytes());
        assert_eq!(
            name(r#"{"resourceType":"Group","id":"g","name":"  ACO North\u0007 Regional "}"#).as_deref(),
            Some("ACO North Regional")
        );
        assert_eq!(name(r#"{"resourceType":"OperationOutcome","name":"x"}"#), None);
        assert_eq!(name(r#"{"resourceType":"Group","name":"   "}"#), None);
        assert_eq!(name(r#"{"resourceType":"Group","name":7}"#), None);
        assert_eq!(
            name(&format!(r#"{{"resourceType":"Group","name":"{}"}}"#, "x".repeat(500))).map(|n| n.len()),
            Some(200)
        );
    }

    #[test]
    fn pages_read_names_identifiers_sizes_and_the_next_link() {
        let body = br#"{"resourceType":"Bundle","type":"searchset","total":3,
          "link":[{"relation":"self","url":"https://x/Group?_count=1"},{"relation":"next","url":"https://x/Group?_count=1&_offset=1"}],
          "entry":[{"resource":{"resourceType":"Group","id":"aco-north","name":"ACO North","type":"person","actual":true,
             "quantity":120,"identifier":[{"system":"urn:aco","value":"N-1"}]}},
             {"resource":{"resourceType":"OperationOutcome"}}]}"#;
        let page = parse_group_page(body).unwrap();
        assert_eq!(page.total, Some(3));
        assert_eq!(page.next.as_deref(), Some("https://x/Group?_count=1&_offset=1"));
        assert_eq!(
            page.groups,
            [GroupSummary {
                id: "aco-north".into(),
                name: Some("ACO North".into()),
                identifier: Some("urn:aco|N-1".into()),
                members: Some(120),
                kind: Some("person".into()),
                actual: Some(true),
            }]
        );
        assert!(parse_group_page(b"<html>").is_err());
        assert!(parse_group_page(br#"{"resourceType":"Patient"}"#).is_err());
    }

    #[test]
    fn members_are_the_patients_the_group_lists_as_active() {
        let body = br#"{"resourceType":"Group","member":[{"entity":{"reference":"Patient/a"}},
            {"entity":{"reference":"https://x.test/fhir/Patient/b/_history/2"}},{"entity":{"reference":"Patient/c"},"inactive":true},
            {"entity":{"reference":"Practitioner/d"}}]}"#;
        let members: Vec<String> = parse_group_members(body).unwrap().unwrap().into_iter().collect();
        assert_eq!(members, vec!["a", "b"]);
        assert!(parse_group_members(br#"{"resourceType":"Patient"}"#).is_err());
        // No roster, or part of one: unknown, never "nobody".
        assert_eq!(parse_group_members(br#"{"resourceType":"Group","quantity":40}"#).unwrap(), None);
        let partial = br#"{"resourceType":"Group","quantity":3,"member":[{"entity":{"reference":"Patient/a"}}]}"#;
        assert_eq!(parse_group_members(partial).unwrap(), None);
    }
}
