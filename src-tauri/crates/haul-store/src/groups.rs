//! Pinned Groups: the rosters a user exports again and again, per server.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Database, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PinnedGroup {
    #[ts(type = "number")]
    pub server_id: i64,
    pub group_id: String,
    pub name: Option<String>,
    #[ts(type = "number | null")]
    pub members: Option<u64>,
    pub pinned_at: String,
}

impl Database {
    /// Pins (or refreshes the name and size of) a Group.
    pub fn pin_group(
        &self,
        server_id: i64,
        group_id: &str,
        name: Option<&str>,
        members: Option<u64>,
    ) -> Result<(), DbError> {
        self.conn()
            .execute(
                "INSERT INTO pinned_groups (server_id, group_id, name, members) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (server_id, group_id) DO UPDATE SET name = excluded.name, members = excluded.members",
                params![server_id, group_id, name, members.map(|m| m as i64)],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    pub fn unpin_group(&self, server_id: i64, group_id: &str) -> Result<(), DbError> {
        self.conn()
            .execute("DELETE FROM pinned_groups WHERE server_id = ?1 AND group_id = ?2", params![server_id, group_id])
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// A server's pinned Groups, by name.
    pub fn pinned_groups(&self, server_id: i64) -> Result<Vec<PinnedGroup>, DbError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT server_id, group_id, name, members, pinned_at FROM pinned_groups WHERE server_id = ?1 \
                 ORDER BY COALESCE(name, group_id) COLLATE NOCASE",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([server_id], |r| {
                Ok(PinnedGroup {
                    server_id: r.get(0)?,
                    group_id: r.get(1)?,
                    name: r.get(2)?,
                    members: r.get::<_, Option<i64>>(3)?.map(|m| m as u64),
                    pinned_at: r.get(4)?,
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use crate::Database;
    use crate::servers::{AuthKind, ServerInput};

    #[test]
    fn pins_are_per_server_refreshed_and_go_with_their_server() {
        let db = Database::open_in_memory().unwrap();
        let input = |name: &str| ServerInput {
            name: name.into(),
            base_url: format!("https://{name}.test/fhir"),
            auth: AuthKind::Open,
            client_id: None,
            scope: None,
            key_kid: None,
            token_url: None,
            trusted_origins: vec![],
            secret_style: None,
            token_params: vec![],
            assertion_kid: None,
            jku: None,
        };
        let a = db.add_server(&input("a")).unwrap();
        let b = db.add_server(&input("b")).unwrap();
        db.pin_group(a.id, "aco-south", Some("ACO South"), Some(10)).unwrap();
        db.pin_group(a.id, "aco-north", Some("ACO North"), Some(5)).unwrap();
        db.pin_group(a.id, "aco-north", Some("ACO North (renamed)"), Some(6)).unwrap();
        db.pin_group(b.id, "x", None, None).unwrap();
        let pins = db.pinned_groups(a.id).unwrap();
        let names: Vec<_> = pins.iter().map(|p| p.name.clone().unwrap()).collect();
        assert_eq!(names, ["ACO North (renamed)", "ACO South"]);
        assert_eq!(pins[0].members, Some(6));
        db.unpin_group(a.id, "aco-south").unwrap();
        assert_eq!(db.pinned_groups(a.id).unwrap().len(), 1);
        db.remove_server(&crate::Keychain, b.id).unwrap();
        assert!(db.pinned_groups(b.id).unwrap().is_empty());
    }
}
