//! Keys, end to end, with the real OS keychain: generate, show the public key, use it for a server, delete.

use crate::harness::{Display, Driver};

#[tokio::test]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn a_key_is_generated_used_by_a_server_and_deleted() {
    let data = tempfile::tempdir().unwrap();
    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "keys");
    let app = driver.launch().await;

    app.click("[data-testid=nav-keys]").await;
    app.wait_for("[data-testid=no-keys]").await;
    app.click("[data-testid=generate-key]").await;
    app.wait_for_text("form", "Give the key a label").await;
    app.type_into("[data-testid=key-label]", "E2E payer key").await;
    app.click("[data-testid=generate-key]").await;
    app.wait_for_text("[data-testid=flash]", "Created “E2E payer key” (ES384)").await;
    app.click("[data-testid=show-jwks]").await;
    let jwks = app.wait_for_text("[data-testid=key-jwks]", "\"kty\": \"EC\"").await;
    assert!(!jwks.contains("\"d\""), "the public key only: {jwks}");
    app.shot("key-generated").await;

    // The demo server accepts sign-in too: register the key from the app, then export with tokens.
    app.click("[data-testid=nav-servers]").await;
    app.click_text("[data-testid=server-item]", "Demo server").await;
    app.click("[data-testid=auth-smart]").await;
    app.wait_for_text("[data-testid=server-key]", "E2E payer key").await;
    app.click("[data-testid=server-key] option:nth-child(2)").await;
    app.click("[data-testid=register-with-demo]").await;
    app.wait_for_text("form", "The demo server issued the client ID demo-").await;
    app.shot("demo-registration").await;
    app.click("[data-testid=save-server]").await;
    app.wait_for_text("[data-testid=flash]", "Saved").await;
    app.click_text("[data-testid=server-item]", "Demo server").await;
    app.click("[data-testid=test-connection]").await;
    let signed = app.wait_for_text("[data-testid=sign-in-result]", "Signed in").await;
    assert!(signed.contains("/auth/token") && signed.contains("found on the server"), "{signed}");
    app.shot("sign-in-tested").await;
    signed_export(&app, "signed-export-complete").await;
    app.click("[data-testid=nav-keys]").await;
    let card = app.wait_for_text("[data-testid=key-item]", "Demo server").await;
    assert!(!card.contains("never"), "the key signed the export: {card}");
    app.quit().await;

    // After a restart the demo server knows the key again (the app registers it back).
    let app = driver.launch().await;
    signed_export(&app, "signed-export-after-restart").await;

    // A server of one's own that signs in with it.
    app.click("[data-testid=nav-servers]").await;
    app.click("[data-testid=add-server]").await;
    app.type_into("[data-testid=server-name]", "Payer").await;
    app.type_into("[data-testid=server-url]", "https://payer.example.org/fhir").await;
    app.click("[data-testid=auth-smart]").await;
    app.type_into("[data-testid=server-client-id]", "haul-client").await;
    app.wait_for_text("[data-testid=server-key]", "E2E payer key").await;
    app.click("[data-testid=server-key] option:nth-child(2)").await;
    app.shot("server-with-key").await;
    app.click("[data-testid=save-server]").await;
    app.wait_for_text("[data-testid=flash]", "Saved “Payer”").await;

    app.click("[data-testid=nav-keys]").await;
    app.wait_for_text("[data-testid=key-item]", "Payer").await;
    app.click("[data-testid=delete-key]").await;
    app.wait_for_text("[role=alertdialog]", "Demo server, Payer will no longer be able to sign in").await;
    app.shot("delete-key-confirm").await;
    app.click("[data-testid=confirm-delete-key]").await;
    app.wait_for_text("[data-testid=flash]", "Demo server, Payer now need another key").await;
    app.wait_for("[data-testid=no-keys]").await;
    app.shot("key-deleted").await;
    app.quit().await;
}

/// A group export from the demo server, watched to the end.
async fn signed_export(app: &crate::harness::App<'_>, shot: &str) {
    app.click("[data-testid=nav-groups]").await;
    app.click("[data-testid=export-aco-south]").await;
    app.wait_for("[data-testid=export-group]").await;
    app.click("[data-testid=start-export]").await;
    let done = app.wait_for_text("[data-testid=job-finished]", "Export complete").await;
    assert!(done.contains("all verified"), "{done}");
    app.shot(shot).await;
}
