//! Keys, end to end, with the real OS keychain: generate, show the public key, use it for a server, delete.

use crate::harness::{Display, Driver};

#[tokio::test]
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

    // A server that signs in with it.
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
    app.wait_for_text("[role=alertdialog]", "Payer will no longer be able to sign in").await;
    app.shot("delete-key-confirm").await;
    app.click("[data-testid=confirm-delete-key]").await;
    app.wait_for_text("[data-testid=flash]", "Payer now needs another key").await;
    app.wait_for("[data-testid=no-keys]").await;
    app.shot("key-deleted").await;
    app.quit().await;
}
