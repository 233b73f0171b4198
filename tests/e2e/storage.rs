//! The Storage page, end to end, with the real OS keychain: a sign-in saved for a bucket, listed again after a
//! restart without its secret (which is not in Haul's database either), a storage that does not answer
//! explained in words, then removed.

use crate::harness::{Display, Driver};

const SECRET: &str = "e2e-storage-secret-7d41c0";

#[tokio::test]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn a_storage_sign_in_is_saved_kept_across_a_restart_and_removed() {
    let data = tempfile::tempdir().unwrap();
    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "storage");
    let app = driver.launch().await;

    app.click("[data-testid=nav-storage]").await;
    app.wait_for("[data-testid=no-storage]").await;
    app.click("[data-testid=save-storage]").await;
    app.wait_for_text("[role=alert]", "starting with s3://").await;
    app.type_into("[data-testid=storage-address]", "s3://payer-lake/bulk").await;
    app.type_into("[data-testid=storage-key-id]", "AKIAE2EEXAMPLE").await;
    app.type_into("[data-testid=storage-secret]", SECRET).await;
    app.type_into("[data-testid=storage-region]", "eu-west-1").await;
    // Port 9 on this computer: nothing listens, so the test says so in words, without waiting minutes.
    app.type_into("[data-testid=storage-endpoint]", "http://127.0.0.1:9").await;
    app.click("[data-testid=test-storage]").await;
    let said = app.wait_for_text("[data-testid=error-notice]", "payer-lake").await;
    assert!(!said.contains(SECRET), "{said}");
    app.shot("test-refused").await;
    app.click("[data-testid=save-storage]").await;
    app.wait_for_text("[data-testid=flash]", "Saved the sign-in for s3://payer-lake/bulk").await;
    let card = app.wait_for_text("[data-testid=storage-item]", "AKIAE2EEXAMPLE").await;
    assert!(card.contains("keychain") && !card.contains(SECRET), "{card}");
    app.shot("saved").await;
    app.quit().await;

    // Nothing of the secret in Haul's data folder (the database and its journal included).
    let mut stack = vec![data.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "{}", p.display());
            }
        }
    }

    let app = driver.launch().await;
    app.click("[data-testid=nav-storage]").await;
    app.wait_for_text("[data-testid=storage-item]", "s3://payer-lake/bulk").await;
    app.click("[data-testid=remove-storage]").await;
    app.wait_for_text("[role=alertdialog]", "its secret from this computer's keychain").await;
    app.click("[data-testid=confirm-remove-storage]").await;
    app.wait_for_text("[data-testid=flash]", "Removed the sign-in for s3://payer-lake/bulk").await;
    app.wait_for("[data-testid=no-storage]").await;
    app.shot("removed").await;
    app.quit().await;
}
