//! Which kind of server a saved server is (a `server-profiles` id): chosen in the form, read by the export
//! plan to apply that server's quirks. Set on its own, after the server is saved.

use super::{Server, ServerError};
use crate::db::Database;

impl Database {
    /// Records (or clears, with `None`) the server's profile; an id Haul does not know is refused.
    pub fn set_server_profile(&self, id: i64, profile_id: Option<&str>) -> Result<Server, ServerError> {
        if let Some(p) = profile_id
            && server_profiles::by_id(p).is_none()
        {
            return Err(ServerError::UnknownProfile(p.to_string()));
        }
        let changed = self
            .conn()
            .execute(
                "UPDATE servers SET profile_id = ?1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?2",
                rusqlite::params![profile_id, id],
            )
            .map_err(|e| self.error(e))?;
        if changed == 0 {
            return Err(ServerError::NotFound(id));
        }
        self.get_server(id)
    }
}

#[cfg(test)]
mod tests {
    use crate::servers::{AuthKind, ServerError, ServerInput};
    use crate::{Database, Keychain};

    #[test]
    fn a_server_remembers_its_kind_and_unknown_kinds_are_refused() {
        let db = Database::open_in_memory().unwrap();
        let input = ServerInput {
            name: "BCDA".into(),
            base_url: "https://sandbox.bcda.cms.gov/api/v3".into(),
            auth: AuthKind::Open,
            ..Default::default()
        };
        let s = db.add_server(&input).unwrap();
        assert_eq!(s.profile_id, None);
        let s = db.set_server_profile(s.id, Some("cms-bcda-sandbox")).unwrap();
        assert_eq!(s.profile_id.as_deref(), Some("cms-bcda-sandbox"));
        // Editing the server's settings keeps its kind.
        let s = db.update_server(&Keychain, s.id, &ServerInput { name: "BCDA sandbox".into(), ..input }).unwrap();
        assert_eq!(s.profile_id.as_deref(), Some("cms-bcda-sandbox"));
        assert!(matches!(db.set_server_profile(s.id, Some("nope")), Err(ServerError::UnknownProfile(_))));
        assert_eq!(db.set_server_profile(s.id, None).unwrap().profile_id, None);
        assert!(matches!(db.set_server_profile(999, None), Err(ServerError::NotFound(999))));
    }
}
