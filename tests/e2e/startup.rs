//! A database Haul cannot use is never wiped: the app says so and offers to move it aside.

use crate::harness::{Display, Driver};

#[tokio::test]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn a_damaged_database_is_moved_aside_only_when_the_user_asks() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("haul.db");
    let garbage = b"not a database at all, just some bytes that once were. ".repeat(200);
    std::fs::write(&db, &garbage).unwrap();

    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "startup-damaged-db");
    let app = driver.launch().await;
    let text = app.wait_for_text("[data-testid=startup-problem]", "damaged").await;
    assert!(text.contains("Haul has not changed it"), "{text}");
    app.shot("damaged-database").await;
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "nothing touched before the user chose");

    app.click("[data-testid=move-aside]").await;
    let moved = app.wait_for_text("[data-testid=moved-to]", "The old file is kept at").await;
    app.shot("moved-aside").await;
    app.click(".startup-problem button.primary").await;
    app.click("[data-testid=nav-servers]").await;
    app.wait_for_text("[data-testid=server-list]", "Demo server").await;
    app.shot("fresh-start").await;
    app.quit().await;

    let kept: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("haul.db.damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "the old file is kept ({moved})");
    assert_eq!(std::fs::read(kept[0].path()).unwrap(), garbage);
}

#[tokio::test]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn a_database_from_a_newer_haul_is_refused_with_an_explanation() {
    let data = tempfile::tempdir().unwrap();
    {
        let db = haul_store::Database::open(&data.path().join("haul.db")).unwrap();
        db.conn().pragma_update(None, "user_version", 999).unwrap();
    }
    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "startup-newer-db");
    let app = driver.launch().await;
    let text = app.wait_for_text("[data-testid=startup-problem]", "newer Haul").await;
    assert!(text.contains("schema 999"), "{text}");
    app.shot("newer-database").await;
    app.quit().await;
}
