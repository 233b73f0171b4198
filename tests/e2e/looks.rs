//! Every page at 1280×800 and 1024×700, in the light theme and in the dark one (GTK's dark Adwaita, which
//! WebKit passes on as `prefers-color-scheme: dark`), after one export from the demo server, so each page has
//! something to show. The screenshots in target/e2e/looks-light and looks-dark are for looking at; the test
//! checks that each page rendered and that the dark theme really is dark.

use crate::harness::{App, Display, Driver};

const PAGES: &[(&str, &str)] = &[
    ("home", "[data-testid=home-recent]"),
    ("export", "[data-testid=export-server]"),
    ("history", "[data-testid=history-detail]"),
    ("files", "[data-testid=files-overview]"),
    ("groups", "[data-testid=groups-server]"),
    ("servers", "[data-testid=server-list]"),
    ("keys", "[data-testid=no-keys]"),
];

async fn every_page(app: &App<'_>, size: &str) {
    for (page, ready) in PAGES {
        app.click(&format!("[data-testid=nav-{page}]")).await;
        if *page == "history" {
            app.click("[data-testid=history-row-1]").await;
        }
        if *page == "files" {
            // The Files page opens on the export's folder from History's Look inside.
            app.click("[data-testid=nav-history]").await;
            app.click("[data-testid=history-row-1]").await;
            app.click("[data-testid=browse-export]").await;
        }
        app.wait_for(ready).await;
        app.shot(&format!("{page}-{size}")).await;
    }
}

async fn background(app: &App<'_>) -> String {
    let v = app.execute("return getComputedStyle(document.documentElement).backgroundColor").await;
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn every_page_in_both_themes_and_two_sizes() {
    let data = tempfile::tempdir().unwrap();
    let display = Display::start();

    let light = Driver::start(&display, data.path(), "looks-light");
    let app = light.launch().await;
    app.wait_for_text("[data-testid=home-welcome]", "Your first export").await;
    app.click("[data-testid=home-try-demo]").await;
    // The form opens filled in; nothing has started yet.
    let group: String =
        app.wait_for("[data-testid=export-group]").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(group, "aco-north");
    app.click("[data-testid=start-export]").await;
    app.wait_for_text("[data-testid=job-finished]", "Export complete").await;
    app.wait_for("[data-testid=next-steps]").await;
    app.shot("export-complete-with-next-steps").await;
    app.resize(1280, 800).await;
    every_page(&app, "1280x800").await;
    app.resize(1024, 700).await;
    every_page(&app, "1024x700").await;
    let light_bg = background(&app).await;
    app.quit().await;

    let dark = Driver::start_with(&display, data.path(), "looks-dark", &[("GTK_THEME", "Adwaita:dark")]);
    let app = dark.launch().await;
    app.resize(1280, 800).await;
    every_page(&app, "1280x800").await;
    app.resize(1024, 700).await;
    every_page(&app, "1024x700").await;
    let dark_bg = background(&app).await;
    app.quit().await;
    assert_ne!(light_bg, dark_bg, "the dark theme has its own colours");
    assert_eq!(dark_bg, "rgb(18, 23, 28)", "the dark background (--bg)");
}
