//! A server added from its profile, as a quality analyst would: "CMS BCDA" chosen as the server type, the
//! simulator's addresses put in place of BCDA's, a client id and secret (HTTP Basic, as BCDA takes them), the
//! whole connection tested, then an export of the `all` group the profile offers, seen on the History and
//! Files pages. The secret must never show in the page once saved.

use std::time::Duration;

use bulk_sim::{AuthMode, RunningSim, SecretStyle, SimConfig};
use serde_json::json;

use crate::harness::{App, Display, Driver};

/// The page's visible text.
async fn page_text(app: &App<'_>) -> String {
    let text = app.client.execute("return document.body.innerText;", vec![]).await.unwrap();
    text.as_str().unwrap_or_default().to_string()
}

/// Waits (briefly) until the top of the element is inside the window: a message the user has to scroll to
/// find is a message missed.
async fn assert_in_view(app: &App<'_>, selector: &str) {
    let script = "const r = document.querySelector(arguments[0]).getBoundingClientRect();
        return r.top >= 0 && r.top < window.innerHeight;";
    for _ in 0..20 {
        if app.client.execute(script, vec![json!(selector)]).await.unwrap() == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.shot("failure-out-of-view").await;
    panic!("{selector} is outside the window: the user would not see it");
}

/// Fails when `secret` is anywhere in the page: its text, its markup, or the value of any field.
async fn assert_secret_not_shown(app: &App<'_>, secret: &str, step: &str) {
    let script = "return [document.body.innerText, document.documentElement.outerHTML]
        .concat(Array.from(document.querySelectorAll('input, textarea, select'), (e) => e.value)).join('\\n');";
    let page = app.client.execute(script, vec![]).await.unwrap();
    let page = page.as_str().unwrap_or_default();
    assert!(!page.is_empty(), "the page text was read ({step})");
    if page.contains(secret) {
        app.shot("failure-secret-shown").await;
        panic!("the client secret is in the page {step}");
    }
}

#[tokio::test]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn a_bcda_server_from_its_profile_signs_in_with_basic_and_exports_its_all_group() {
    let data = tempfile::tempdir().unwrap();
    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "profiles");
    let sim = RunningSim::start(SimConfig {
        auth: AuthMode::ClientSecret {
            token_lifetime: Duration::from_secs(20 * 60),
            style: SecretStyle::Basic,
            required_scope: None,
        },
        prepare_time: Duration::from_millis(1500),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (client_id, secret) = sim.register_secret_client();

    // Servers → Add server → Server type "CMS BCDA": the form is filled in for BCDA.
    let app = driver.launch().await;
    app.click("[data-testid=nav-servers]").await;
    app.wait_for_text("[data-testid=server-list]", "Demo server").await;
    app.click("[data-testid=add-server]").await;
    app.click("[data-testid=server-profile] option[value=cms-bcda]").await;
    app.wait_for_text("[data-testid=profile-facts]", "Beneficiary Claims Data API").await;
    let filled = |testid: &'static str| {
        let app = &app;
        async move {
            let el = app.wait_for(&format!("[data-testid={testid}]")).await;
            el.prop("value").await.unwrap().unwrap_or_default()
        }
    };
    assert_eq!(filled("server-name").await, "CMS BCDA");
    assert_eq!(filled("server-url").await, "https://api.bcda.cms.gov/api/v3");
    assert_eq!(filled("server-token-url").await, "https://api.bcda.cms.gov/auth/token");
    assert_eq!(filled("server-scope").await, "", "BCDA takes no scope");
    let checked = "return [document.querySelector('[data-testid=auth-client-secret]').checked,
        document.querySelector('[data-testid=secret-style-basic]').checked];";
    assert_eq!(app.client.execute(checked, vec![]).await.unwrap(), json!([true, true]), "client secret, in Basic");
    app.shot("bcda-profile-chosen").await;

    // The simulator in place of BCDA: its FHIR base and token URL, and a client it registered.
    app.type_into("[data-testid=server-url]", &sim.base_url()).await;
    app.type_into("[data-testid=server-token-url]", &sim.token_url()).await;
    app.type_into("[data-testid=server-client-id]", &client_id).await;
    app.type_into("[data-testid=server-secret]", &secret).await;
    app.wait_for_text("[data-testid=secret-not-saved]", "keeps it only in this computer's keychain").await;
    app.shot("simulator-addresses-and-credentials").await;
    app.click("[data-testid=save-server]").await;
    app.wait_for_text("[data-testid=flash]", "Saved “CMS BCDA”").await;
    assert_in_view(&app, "[data-testid=flash]").await;
    app.wait_for_text("[data-testid=secret-saved]", "A secret is saved in this computer's keychain").await;
    assert_eq!(filled("server-secret").await, "", "the secret field is emptied once saved");
    assert_eq!(filled("server-profile").await, "cms-bcda", "the server type is kept");
    let items = app.texts("[data-testid=server-item]").await;
    assert!(items.iter().any(|i| i.contains("CMS BCDA") && i.contains(&sim.base_url())), "{items:?}");
    assert_secret_not_shown(&app, &secret, "after saving").await;
    app.shot("saved-secret-in-keychain").await;

    // Test the whole connection: every step passes, the sign-in with HTTP Basic.
    app.click("[data-testid=probe-server]").await;
    let result = app.wait_for_text("[data-testid=probe-result]", "The whole connection works").await;
    assert_in_view(&app, "[data-testid=probe-result]").await;
    let outcomes = app
        .client
        .execute(
            "return Array.from(document.querySelectorAll('[data-testid=probe-step]'), (s) => s.dataset.outcome);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(outcomes, json!(["passed", "passed", "passed"]), "{result}");
    assert!(result.contains("Signed in"), "{result}");
    let stats = sim.stats();
    assert_eq!(stats.token_requests, 1, "one token for the test");
    assert_eq!(stats.kickoffs, 1, "one test export");
    assert_eq!(stats.deletes, 1, "the test export was cancelled");
    // In Basic mode the simulator refuses a secret sent any other way; and none was in the form.
    assert_eq!(stats.token_form_fields, ["grant_type"], "the id and secret went in the Authorization header");
    assert_secret_not_shown(&app, &secret, "after the connection test").await;
    app.shot("whole-connection-works").await;

    // Groups: the groups BCDA offers every client, one click from an export.
    app.click("[data-testid=nav-groups]").await;
    app.click_text("[data-testid=groups-server] option", "CMS BCDA").await;
    let offered = app.wait_for_text("[data-testid=offered-groups]", "All enrollees attributed to you").await;
    assert!(offered.contains("runout"), "{offered}");
    app.shot("groups-bcda-offers").await;
    app.click("[data-testid=export-offered-all]").await;

    // The export of `all`, as BCDA's claims (the financial preset); the request is shown before it is sent.
    let group: String =
        app.wait_for("[data-testid=export-group]").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(group, "all");
    app.wait_for_text("[data-testid=export-server]", "CMS BCDA").await;
    app.click("[data-testid=preset-financial]").await;
    let request = app
        .wait_for_text("[data-testid=export-request]", "_type=Patient%2CCoverage%2CClaim%2CExplanationOfBenefit")
        .await;
    assert!(request.starts_with(&format!("GET {}/Group/all/$export?", sim.base_url())), "{request}");
    app.shot("export-form-bcda-all").await;
    app.click("[data-testid=start-export]").await;
    app.wait_for("[data-testid=running-export]").await;
    app.shot("export-running").await;
    let done = app.wait_for_text("[data-testid=job-finished]", "Export complete").await;
    assert!(done.contains("all verified"), "{done}");
    let totals = app.wait_for_text("[data-testid=job-totals]", "ExplanationOfBenefit").await;
    // `all` is every patient the client may see: here, all 100 of the simulator's.
    let rows = app
        .client
        .execute(
            "return Array.from(document.querySelectorAll('[data-testid=job-totals] tbody tr'),
                (r) => Array.from(r.cells, (c) => c.textContent));",
            vec![],
        )
        .await
        .unwrap();
    let rows: Vec<Vec<String>> = serde_json::from_value(rows).unwrap();
    let resources = |t: &str| rows.iter().find(|r| r[0] == t).map(|r| r[2].clone()).unwrap_or_default();
    assert_eq!(resources("Patient"), "100", "{totals}");
    // Counts are written as everywhere else in Haul: 1,341, not 1341.
    let claims = resources("Claim");
    assert!(claims.contains(',') && claims.replace(',', "").parse::<u64>().unwrap() >= 1000, "{claims}");
    let page = page_text(&app).await;
    assert!(!page.contains("keeps running"), "a finished export is not said to be running: {page}");
    app.shot("export-complete").await;
    let stats = sim.stats();
    assert_eq!(stats.kickoffs, 2, "the test export and this one");
    assert!(stats.token_requests >= 1 && stats.token_form_fields == ["grant_type"], "{stats:?}");
    assert!(stats.file_requests_with_authorization > 0, "files need the token on this server: {stats:?}");

    // History and Files: the export is kept, with its counts and files.
    app.click("[data-testid=nav-history]").await;
    app.wait_for_text("[data-testid=history-status-1]", "Completed").await;
    app.click("[data-testid=history-row-1]").await;
    // The group by the name the server kind gives it, not its id.
    let detail = app.wait_for_text("[data-testid=history-detail]", "All enrollees attributed to you").await;
    assert!(detail.contains(&sim.base_url()), "{detail}");
    let totals = app.wait_for_text("[data-testid=history-totals]", "ExplanationOfBenefit").await;
    assert!(totals.contains("Coverage") && totals.contains("Claim"), "{totals}");
    let folder = app.wait_for_text("[data-testid=history-folder]", "exports").await;
    assert!(std::path::Path::new(folder.trim()).join("manifest.json").exists(), "{folder}");
    assert_secret_not_shown(&app, &secret, "on the History page").await;
    app.shot("history-bcda-export").await;
    app.click("[data-testid=browse-export]").await;
    let overview = app.wait_for_text("[data-testid=files-overview]", "ExplanationOfBenefit").await;
    assert!(overview.contains("Patient") && overview.contains("Coverage"), "{overview}");
    app.shot("files-bcda-export").await;
    app.quit().await;
}
