//! Servers, end to end: the demo server, add, validate, test the connection, restart, edit, remove.

use crate::harness::{Display, Driver};

#[tokio::test]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn servers_are_kept_across_restarts_and_can_be_edited_and_removed() {
    let data = tempfile::tempdir().unwrap();
    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "servers");
    let sim = bulk_sim::RunningSim::start(bulk_sim::SimConfig::default()).await.unwrap();

    // First run: the built-in demo server is there, and it answers.
    let app = driver.launch().await;
    app.click("[data-testid=nav-servers]").await;
    app.wait_for_text("[data-testid=server-list]", "Demo server").await;
    app.click("[data-testid=server-item]").await;
    app.wait_for_text("[data-testid=builtin-hint]", "Haul runs this demo server itself").await;
    app.click("[data-testid=test-connection]").await;
    app.wait_for_text("[data-testid=test-result]", "Connected: a Bulk Data server").await;
    app.shot("first-run-demo-server").await;

    // Bad input first: no scheme, then plain http to another machine (allowed, with a warning).
    app.click("[data-testid=add-server]").await;
    app.type_into("[data-testid=server-name]", "Payer production").await;
    app.type_into("[data-testid=server-url]", "payer.example.org/fhir").await;
    app.click("[data-testid=save-server]").await;
    app.wait_for_text("[data-testid=error-baseUrl]", "should start with https://").await;
    app.shot("url-without-scheme-refused").await;
    app.type_into("[data-testid=server-url]", "http://payer.example.org/fhir").await;
    app.wait_for_text("[data-testid=warning-baseUrl]", "unencrypted").await;
    app.shot("plain-http-warns").await;

    // A simulator the test runs: test the connection before saving.
    app.type_into("[data-testid=server-url]", &format!("{}/", sim.base_url())).await;
    app.click("[data-testid=test-connection]").await;
    let result = app.wait_for_text("[data-testid=test-result]", "Connected: a Bulk Data server").await;
    assert!(result.contains("Haul Bulk Data simulator"), "{result}");
    assert!(result.contains("4.0.1"), "{result}");
    app.shot("test-connection-ok").await;

    app.click("[data-testid=save-server]").await;
    app.wait_for_text("[data-testid=flash]", "Saved “Payer production”").await;
    let items = app.texts("[data-testid=server-item]").await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.iter().any(|i| i.contains(&sim.base_url())), "stored without the trailing slash: {items:?}");
    app.shot("saved").await;

    // A duplicate name, in another case, is refused with a message naming the existing server.
    app.click("[data-testid=add-server]").await;
    app.type_into("[data-testid=server-name]", "payer PRODUCTION").await;
    app.type_into("[data-testid=server-url]", "https://other.example.org/fhir").await;
    app.click("[data-testid=save-server]").await;
    app.wait_for_text("[data-testid=error-name]", "A server named “Payer production” already exists").await;
    app.shot("duplicate-name-refused").await;

    // A server that is down: plain words, no stack trace.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    app.type_into("[data-testid=server-url]", &format!("http://127.0.0.1:{dead_port}/fhir")).await;
    app.click("[data-testid=test-connection]").await;
    let err = app.wait_for_text("[data-testid=error-notice]", "Nothing answered at").await;
    assert!(err.contains(&format!("127.0.0.1:{dead_port}")), "{err}");
    app.shot("test-connection-down").await;
    app.quit().await;

    // Second run: the server is still there.
    let app = driver.launch().await;
    app.click("[data-testid=nav-servers]").await;
    let items = app.wait_for_text("[data-testid=server-list]", "Payer production").await;
    assert!(!items.contains("payer PRODUCTION"), "the refused duplicate was not saved: {items}");
    app.shot("after-restart").await;

    // Edit: rename and switch to SMART Backend Services.
    app.click_text("[data-testid=server-item]", "Payer production").await;
    app.type_into("[data-testid=server-name]", "Payer (edited)").await;
    app.click("[data-testid=auth-smart]").await;
    app.click("[data-testid=save-server]").await;
    app.wait_for_text("form", "Enter the client ID").await;
    app.type_into("[data-testid=server-client-id]", "haul-client-7").await;
    app.click("[data-testid=save-server]").await;
    app.wait_for_text("[data-testid=flash]", "Saved “Payer (edited)”").await;
    let items = app.texts("[data-testid=server-item]").await;
    assert_eq!(items.len(), 2);
    assert!(items.iter().any(|i| i.contains("Payer (edited)") && i.contains("SMART Backend Services")), "{items:?}");
    app.shot("edited").await;
    app.quit().await;

    // Third run: the edit stuck; remove it.
    let app = driver.launch().await;
    app.click("[data-testid=nav-servers]").await;
    app.click_text("[data-testid=server-item]", "Payer (edited)").await;
    let scope: String =
        app.wait_for("[data-testid=server-scope]").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(scope, "system/*.read");
    app.click("[data-testid=remove-server]").await;
    app.wait_for_text("[data-testid=confirm-remove]", "Remove “Payer (edited)” from Haul?").await;
    app.shot("confirm-remove").await;
    app.click("[data-testid=confirm-remove-yes]").await;
    app.wait_for_text("[data-testid=flash]", "Removed “Payer (edited)”").await;
    assert_eq!(app.texts("[data-testid=server-item]").await.len(), 1);
    app.shot("removed").await;

    // Removing the demo server too leaves the empty list, which says what to do.
    app.click_text("[data-testid=server-item]", "Demo server").await;
    app.click("[data-testid=remove-server]").await;
    app.click("[data-testid=confirm-remove-yes]").await;
    app.wait_for_text("[data-testid=no-servers]", "No servers yet").await;
    app.shot("empty").await;
    app.quit().await;

    // Fourth run: still gone, the demo server included (it is offered once).
    let app = driver.launch().await;
    app.click("[data-testid=nav-servers]").await;
    app.wait_for_text("[data-testid=no-servers]", "No servers yet").await;
    app.quit().await;
}
