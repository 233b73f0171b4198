use super::*;
use haul_store::{JobState, ServerInput};

fn db_with_servers() -> (Database, Server, Server) {
    let db = Database::open_in_memory().unwrap();
    let open = db
        .add_server(&ServerInput {
            name: "Payer prod".into(),
            base_url: "https://payer.test/fhir".into(),
            auth: AuthKind::Open,
            client_id: None,
            scope: None,
            key_kid: None,
            token_url: None,
            trusted_origins: Vec::new(),
            secret_style: None,
            token_params: Vec::new(),
            assertion_kid: None,
            jku: None,
        })
        .unwrap();
    let smart = db
        .add_server(&ServerInput {
            name: "EHR".into(),
            base_url: "https://ehr.test/fhir".into(),
            auth: AuthKind::SmartBackend,
            client_id: Some("haul".into()),
            scope: None,
            key_kid: None,
            token_url: None,
            trusted_origins: Vec::new(),
            secret_style: None,
            token_params: Vec::new(),
            assertion_kid: None,
            jku: None,
        })
        .unwrap();
    (db, open, smart)
}

fn group(id: &str) -> ExportRequest {
    ExportRequest { level: Some(ExportLevel::Group(id.into())), ..Default::default() }
}

fn finish_with_time(db: &Database, id: i64, time: &str, state: JobState) {
    db.conn().execute("UPDATE exports SET transaction_time = ?2 WHERE id = ?1", (id, time)).unwrap();
    db.finish_job(id, state, &[], None).unwrap();
}

#[test]
fn a_saved_server_gives_its_address_and_a_named_folder_under_the_root() {
    let (db, open, _) = db_with_servers();
    let root = tempfile::tempdir().unwrap();
    let planned = ExportPlan::for_saved(open.id, group("aco-north")).create(&db, root.path()).unwrap();
    let job = planned.job;
    assert_eq!(job.server_id, Some(open.id));
    assert_eq!(job.fhir_url, "https://payer.test/fhir");
    assert_eq!(job.state, JobState::Created);
    assert!(job.settings.auth.is_none());
    let folder = PathBuf::from(&job.out_dir);
    assert!(folder.is_dir() && folder.starts_with(root.path().canonicalize().unwrap()));
    let name = folder.file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with("payer-prod_group-aco-north_20"), "{name}");
}

#[test]
fn patients_need_a_patient_or_group_level_and_a_group_needs_its_id() {
    let (db, open, _) = db_with_servers();
    let root = tempfile::tempdir().unwrap();
    let mut system = ExportRequest { patients: vec!["p1".into()], ..Default::default() };
    system.level = Some(ExportLevel::System);
    let err = ExportPlan::for_saved(open.id, system).create(&db, root.path()).unwrap_err();
    assert!(matches!(err, PlanError::PatientsNeedPatientLevel));
    let err = ExportPlan::for_saved(open.id, group("  ")).create(&db, root.path()).unwrap_err();
    assert!(matches!(err, PlanError::GroupIdMissing));
    let patients =
        ExportRequest { level: Some(ExportLevel::Patient), patients: vec!["p1".into()], ..Default::default() };
    ExportPlan::for_saved(open.id, patients).create(&db, root.path()).unwrap();
    assert_eq!(db.list_jobs(10).unwrap().len(), 1, "refused plans created nothing");
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "refused plans made no folder");
}

#[test]
fn smart_sign_in_needs_a_client_id_and_a_key() {
    let (db, _, smart) = db_with_servers();
    let root = tempfile::tempdir().unwrap();
    let err = ExportPlan::for_saved(smart.id, group("g")).create(&db, root.path()).unwrap_err();
    assert!(matches!(err, PlanError::SignInIncomplete(ref name) if name == "EHR"), "{err}");
    let with_key = Server { key_kid: Some("kid-1".into()), ..smart };
    let auth = sign_in_of(&with_key).unwrap().unwrap();
    assert_eq!((auth.client_id.as_deref(), auth.key_kid.as_deref()), (Some("haul"), Some("kid-1")));
    assert_eq!((auth.method, auth.secret), (haul_store::SignInMethod::SmartBackend, None));
}

#[test]
fn secret_sign_in_names_the_servers_keychain_entry_and_needs_a_saved_secret() {
    let (_, _, smart) = db_with_servers();
    let secret_server = Server {
        auth: AuthKind::ClientSecret,
        client_id: Some("bcda-client".into()),
        scope: Some("clientCreds".into()),
        token_url: Some("https://auth.test/token".into()),
        secret_style: Some(bulk_client::SecretStyle::Post),
        token_params: vec![("audience".into(), "https://api.test".into())],
        ..smart.clone()
    };
    let err = sign_in_of(&secret_server).unwrap_err();
    assert!(err.to_string().contains("client secret, and none is saved"), "{err}");
    assert!(err.to_string().contains("Servers page"), "{err}");
    let saved = Server { secret_saved: true, ..secret_server };
    let auth = sign_in_of(&saved).unwrap().unwrap();
    assert_eq!(auth.method, haul_store::SignInMethod::ClientSecret);
    assert_eq!(auth.secret, Some(haul_store::SecretRef::Keychain { server_id: smart.id }));
    assert_eq!(auth.secret_style, bulk_client::SecretStyle::Post);
    assert_eq!(
        (auth.scope.as_deref(), auth.token_url.as_deref()),
        (Some("clientCreds"), Some("https://auth.test/token"))
    );
    assert_eq!(auth.token_params, [("audience".to_string(), "https://api.test".to_string())]);
    let no_client = Server { client_id: None, ..saved };
    assert!(matches!(sign_in_of(&no_client), Err(PlanError::ClientIdMissing(_))));

    let bearer = Server { auth: AuthKind::BearerToken, client_id: None, scope: None, ..smart };
    assert!(sign_in_of(&bearer).unwrap_err().to_string().contains("bearer token"));
    let auth = sign_in_of(&Server { secret_saved: true, ..bearer }).unwrap().unwrap();
    assert_eq!(auth.method, haul_store::SignInMethod::BearerToken);
    assert_eq!((auth.client_id, auth.key_kid, auth.token_url), (None, None, None));
}

#[test]
fn since_the_last_export_uses_the_newest_successful_one_of_the_same_request() {
    let (db, open, _) = db_with_servers();
    let root = tempfile::tempdir().unwrap();
    let first = ExportPlan::for_saved(open.id, group("g1")).create(&db, root.path()).unwrap();
    assert_eq!(first.baseline, None);
    finish_with_time(&db, first.job.id, "2026-10-01T00:00:00Z", JobState::Completed);
    let failed = ExportPlan::for_saved(open.id, group("g1")).create(&db, root.path()).unwrap();
    finish_with_time(&db, failed.job.id, "2026-11-01T00:00:00Z", JobState::Failed);

    let mut plan = ExportPlan::for_saved(open.id, group("g1"));
    plan.since = Since::LastExport;
    let preview = plan.preview(&db, root.path()).unwrap();
    assert_eq!(preview.since_last.baseline.as_ref().map(|b| b.since.as_str()), Some("2026-10-01T00:00:00Z"));
    assert!(
        preview.since_last_text.starts_with("changes since 1 Oct 2026 00:00 UTC, the export of"),
        "{}",
        preview.since_last_text
    );
    assert!(
        preview.request_text.contains("_since=2026-10-01"),
        "the preview shows the _since: {}",
        preview.request_text
    );
    let planned = plan.create(&db, root.path()).unwrap();
    assert_eq!(planned.baseline.unwrap().baseline.map(|b| b.export_id), Some(first.job.id));
    assert_eq!(planned.job.request.since.as_deref(), Some("2026-10-01T00:00:00Z"));

    let mut other_group = ExportPlan::for_saved(open.id, group("g2"));
    other_group.since = Since::LastExport;
    let planned = other_group.create(&db, root.path()).unwrap();
    assert_eq!(planned.baseline, Some(BaselineChoice::default()), "no baseline: a full export");
    assert_eq!(planned.job.request.since, None);
}

#[test]
fn an_address_matching_a_saved_server_is_recorded_as_that_server() {
    let (db, open, _) = db_with_servers();
    let root = tempfile::tempdir().unwrap();
    let plan = ExportPlan {
        out_dir: Some(root.path().join("mine")),
        parallel: 99,
        ..ExportPlan::new(ServerChoice::Address { fhir_url: "https://payer.test/fhir/".into(), auth: None }, group("g"))
    };
    let job = plan.create(&db, root.path()).unwrap().job;
    assert_eq!(job.server_id, Some(open.id));
    assert_eq!(job.settings.parallel, 32, "parallel downloads are kept within 1..=32");
    assert!(job.out_dir.ends_with("mine"));
    let again = ExportPlan {
        out_dir: Some(root.path().join("mine")),
        ..ExportPlan::new(ServerChoice::Address { fhir_url: "https://other.test/fhir".into(), auth: None }, group("g"))
    };
    std::fs::write(root.path().join("mine/Patient.000.ndjson"), "{}").unwrap();
    assert!(matches!(again.create(&db, root.path()), Err(PlanError::Folder(FolderError::NotEmpty(_)))));
}

#[test]
fn running_again_takes_the_old_request_and_incremental_needs_a_finished_export() {
    let (db, open, _) = db_with_servers();
    let root = tempfile::tempdir().unwrap();
    let mut plan = ExportPlan::for_saved(open.id, group("g1"));
    plan.parallel = 7;
    plan.delete_after = false;
    let old = plan.create(&db, root.path()).unwrap().job;
    assert!(matches!(ExportPlan::rerun(&db, old.id, true), Err(PlanError::NoPointInTime)));
    assert!(matches!(ExportPlan::rerun(&db, 999, false), Err(PlanError::NoSuchExport(999))));
    // Picked by hand, an export is still held to the rules of "since the last export".
    finish_with_time(&db, old.id, "2026-10-01T00:00:00Z", JobState::CompletedWithProblems);
    let e = ExportPlan::rerun(&db, old.id, true).unwrap_err();
    assert!(matches!(&e, PlanError::NotAStartingPoint(why) if why.contains("not all of it arrived")), "{e}");
    finish_with_time(&db, old.id, "2999-01-01T00:00:00Z", JobState::Completed);
    let e = ExportPlan::rerun(&db, old.id, true).unwrap_err();
    assert!(e.to_string().contains("in the future by this computer's clock"), "{e}");
    finish_with_time(&db, old.id, "2026-10-01T00:00:00Z", JobState::Completed);

    let again = ExportPlan::rerun(&db, old.id, true).unwrap();
    assert_eq!(again.server, ServerChoice::Saved(open.id));
    assert_eq!(again.request.since.as_deref(), Some("2026-10-01T00:00:00Z"));
    let job = again.create(&db, root.path()).unwrap().job;
    assert_eq!((job.settings.parallel, job.settings.delete_after), (7, false));
    assert!(job.out_dir.contains("group-g1-since-last"), "{}", job.out_dir);

    // The server was removed since: the job's own address and sign-in are used.
    db.remove_server(&haul_store::Keychain, open.id).unwrap();
    let orphan = ExportPlan::rerun(&db, old.id, false).unwrap();
    assert!(
        matches!(orphan.server, ServerChoice::Address { ref fhir_url, .. } if fhir_url == "https://payer.test/fhir")
    );
}

#[test]
fn a_servers_kind_shapes_the_request_before_anything_is_created() {
    let (db, open, _) = db_with_servers();
    let root = tempfile::tempdir().unwrap();
    db.set_server_profile(open.id, Some("cms-ab2d-sandbox")).unwrap();
    // AB2D: all patients only; no `_since` would be "since the last export", so a full export says so.
    let all = ExportRequest { level: Some(ExportLevel::Patient), ..Default::default() };
    let planned = ExportPlan::for_saved(open.id, all.clone()).create(&db, root.path()).unwrap();
    assert_eq!(planned.job.request.since.as_deref(), Some("2020-01-01T00:00:00+00:00"));
    assert!(planned.notes.iter().any(|n| n.contains("full export")), "{:?}", planned.notes);
    let preview = ExportPlan::for_saved(open.id, all).preview(&db, root.path()).unwrap();
    assert!(preview.request_text.contains("_since=2020-01-01T00%3A00%3A00%2B00%3A00"), "{}", preview.request_text);
    let e = ExportPlan::for_saved(open.id, group("g1")).create(&db, root.path()).unwrap_err();
    assert!(matches!(e, PlanError::Quirk(_)), "{e}");
    assert!(e.to_string().contains("all-patients exports only"), "{e}");
}

#[test]
fn a_container_name_azure_would_refuse_is_refused_before_anything_is_created() {
    for good in ["abc", "monthly-roster-2026", &"a".repeat(63)] {
        assert!(is_container_name(good), "{good}");
    }
    for bad in ["ab", "Roster", "-roster", "roster-", "a--b", "my_roster", "rösti", &"a".repeat(64)] {
        assert!(!is_container_name(bad), "{bad}");
    }
    let (db, open, _) = db_with_servers();
    let tmp = tempfile::tempdir().unwrap();
    let request = ExportRequest { container: Some("Monthly Roster".into()), ..Default::default() };
    let err = ExportPlan::for_saved(open.id, request).create(&db, tmp.path()).unwrap_err();
    assert!(matches!(err, PlanError::ContainerName(_)), "{err}");
    assert!(db.list_jobs(10).unwrap().is_empty());
}

#[test]
fn a_server_that_runs_one_export_at_a_time_gets_no_second_one_from_haul() {
    let (db, open, _) = db_with_servers();
    let root = tempfile::tempdir().unwrap();
    db.set_server_profile(open.id, Some("oracle-health")).unwrap();
    let first = ExportPlan::for_saved(open.id, group("g1")).create(&db, root.path()).unwrap().job;
    // Created but not kicked off: nothing is open on the server yet.
    ExportPlan::for_saved(open.id, group("g2")).create(&db, root.path()).unwrap();
    db.set_kicked_off(first.id, "https://payer.test/fhir/status/1").unwrap();
    let e = ExportPlan::for_saved(open.id, group("g3")).create(&db, root.path()).unwrap_err();
    assert!(matches!(e, PlanError::OneAtATime { running, .. } if running == first.id), "{e}");
    assert!(e.to_string().contains("one export per client at a time"), "{e}");
    db.finish_job(first.id, JobState::Completed, &[], None).unwrap();
    ExportPlan::for_saved(open.id, group("g3")).create(&db, root.path()).unwrap();
}

#[test]
fn a_group_export_keeps_its_groups_name_and_a_run_again_too() {
    let (db, open, _) = db_with_servers();
    let root = tempfile::tempdir().unwrap();
    let mut plan = ExportPlan::for_saved(open.id, group("aco-north"));
    plan.group_name = Some("  ACO North\u{7}\nRegional ".into());
    let job = plan.create(&db, root.path()).unwrap().job;
    // Shown only: trimmed, no control characters.
    assert_eq!(job.settings.group_name.as_deref(), Some("ACO NorthRegional"));
    let again = ExportPlan::rerun(&db, job.id, false).unwrap();
    assert_eq!(again.group_name.as_deref(), Some("ACO NorthRegional"));
    // Not kept for other levels, and bounded.
    let mut system = ExportPlan::for_saved(open.id, ExportRequest::default());
    system.group_name = Some("x".into());
    assert_eq!(system.create(&db, root.path()).unwrap().job.settings.group_name, None);
    let mut long = ExportPlan::for_saved(open.id, group("g2"));
    long.group_name = Some("n".repeat(5000));
    assert_eq!(long.create(&db, root.path()).unwrap().job.settings.group_name.map(|n| n.len()), Some(200));
}
