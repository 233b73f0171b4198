//! Group search against the simulator, over real HTTP.

use bulk_client::{ExportErrorKind, ExportSession, HttpClient};
use bulk_sim::{RunningSim, SimConfig};

#[tokio::test]
async fn groups_are_found_by_name_with_their_sizes() {
    let sim = RunningSim::start(SimConfig::default()).await.unwrap();
    let session = ExportSession::new(HttpClient::new(), &sim.base_url(), None);
    let all = session.search_groups(None, None).await.unwrap();
    assert_eq!(all.total, Some(all.groups.len() as u64));
    assert!(all.groups.iter().any(|g| g.id == "aco-north"), "{:?}", all.groups);
    assert!(all.groups.iter().all(|g| g.members.is_some()));
    let aco = session.search_groups(Some("aco"), None).await.unwrap();
    assert!(!aco.groups.is_empty() && aco.groups.len() < all.groups.len());
    assert!(aco.groups.iter().all(|g| g.name.as_deref().unwrap_or("").to_lowercase().contains("aco")));

    let elsewhere = session.search_groups(None, Some("https://other.example/fhir/Group?page=2")).await.unwrap_err();
    assert_eq!(elsewhere.kind, ExportErrorKind::Protocol);
    let down = ExportSession::new(HttpClient::new(), "http://127.0.0.1:9/fhir", None);
    assert_eq!(down.search_groups(None, None).await.unwrap_err().kind, ExportErrorKind::Network);
}
