//! The second day (issue 18): an export from the demo server is interrupted by closing the app; the app comes
//! back (the demo server on a new port), says an export was interrupted, resumes it from History to the end,
//! names the server by its name, and the banner goes.

use crate::harness::{Display, Driver};

#[tokio::test]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn an_export_interrupted_by_a_restart_resumes_on_the_new_demo_server() {
    let data = tempfile::tempdir().unwrap();
    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "second-day");

    let app = driver.launch().await;
    app.click("[data-testid=nav-export]").await;
    app.wait_for_text("[data-testid=export-server]", "Demo server").await;
    app.click("[data-testid=level-system]").await;
    app.click("[data-testid=start-export]").await;
    // The demo server takes a few seconds to prepare: the window closes meanwhile, and the demo server
    // (inside the app) with it.
    app.wait_for_text("[data-testid=job-state]", "Waiting for the server").await;
    app.quit().await;

    let app = driver.launch().await;
    // The home screen lists it under Now; every other page has the banner.
    app.wait_for_text("[data-testid=home-now]", "Interrupted").await;
    app.shot("home-with-interrupted-export").await;
    app.click("[data-testid=nav-files]").await;
    app.wait_for_text("[data-testid=interrupted-banner]", "An export was interrupted").await;
    app.shot("interrupted-banner").await;
    app.click("[data-testid=nav-history]").await;
    app.wait_for_text("[data-testid=history-status-1]", "Interrupted").await;
    app.click("[data-testid=history-row-1]").await;
    app.click("[data-testid=resume-export]").await;
    app.wait_for_text("[data-testid=history-status-1]", "Completed").await;
    // Read from the page (WebKitWebDriver's visible-text rule leaves out this ellipsised line).
    let row = app.execute("return document.querySelector('[data-testid=history-row-1]').textContent").await;
    let row = row.as_str().unwrap_or_default().to_string();
    assert!(row.contains("Demo server"), "the row names the server: {row}");
    assert!(!row.contains("127.0.0.1"), "the server by its name, not its address: {row}");
    app.shot("resumed-on-the-new-demo-server").await;
    // Resumed to the end: the banner is gone on the next page.
    app.click("[data-testid=nav-servers]").await;
    app.wait_for("[data-testid=nav-servers][aria-current=page]").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(app.texts("[data-testid=interrupted-banner]").await.is_empty(), "the interrupted banner went");
    app.quit().await;
}
