//! The Files page on a folder another tool made (no manifest): more rows than a browser can lay out at full
//! height, a broken last line, a gzipped file, find, open by id, a reference into the `.gz` file, and a folder
//! with no NDJSON at all.

use std::io::Write;

use crate::harness::{Display, Driver};

#[tokio::test]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn a_large_folder_from_another_tool_is_browsed_to_its_last_row() {
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    // 150,000 Observations: 5.1 million pixels of 34-pixel rows, past what one element may be tall.
    let mut text = String::new();
    for i in 0..150_000 {
        let code = if i % 1000 == 0 { "Heart rate" } else { "Body weight" };
        text.push_str(&format!(
            "{{\"resourceType\":\"Observation\",\"id\":\"obs-{i}\",\"status\":\"final\",\"code\":{{\"text\":\"{code}\"}},\
             \"valueQuantity\":{{\"value\":{i},\"unit\":\"kg\"}},\"subject\":{{\"reference\":\"Patient/p{}\"}}}}\n",
            i % 3
        ));
    }
    text.push_str("{\"resourceType\":\"Observation\",\"id\":\"broken\"\n");
    std::fs::write(folder.path().join("Observation.ndjson"), text).unwrap();
    let gz = std::fs::File::create(folder.path().join("Patient.ndjson.gz")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(gz, flate2::Compression::default());
    for (i, name) in ["Ada", "Grace", "Mary"].iter().enumerate() {
        writeln!(gz, "{{\"resourceType\":\"Patient\",\"id\":\"p{i}\",\"name\":[{{\"given\":[\"{name}\"],\"family\":\"Test\"}}],\"gender\":\"female\",\"birthDate\":\"198{i}-01-01\"}}").unwrap();
    }
    gz.finish().unwrap();

    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "files");
    let app = driver.launch().await;
    app.click("[data-testid=nav-files]").await;

    // A folder without NDJSON says so in plain words.
    app.type_into("[data-testid=folder-path]", empty.path().to_str().unwrap()).await;
    app.click("[data-testid=open-path]").await;
    app.wait_for_text("[data-testid=error-notice]", "There are no NDJSON files").await;
    app.shot("a-folder-without-ndjson").await;

    // The overview counts what no manifest tells: 150,001 lines and 3 Patients from the .gz file.
    app.type_into("[data-testid=folder-path]", folder.path().to_str().unwrap()).await;
    app.click("[data-testid=open-path]").await;
    app.wait_for_text("[data-testid=overview-total]", "150,004").await;
    app.wait_for_text("[data-testid=files-overview]", "no manifest.json in this folder").await;
    app.shot("overview-counted").await;

    // The table scrolled to its very end: the broken line is there, marked, with its line number.
    app.click("[data-testid=type-Observation]").await;
    app.wait_for_text("[data-testid=table-status]", "150,001 rows").await;
    let body = serde_json::to_value(app.wait_for("[data-testid=data-body]").await).unwrap();
    app.client.execute("arguments[0].scrollTop = arguments[0].scrollHeight;", vec![body]).await.unwrap();
    let last = app.wait_for_content("[data-testid=data-row][data-line='150001']", "not valid JSON").await;
    assert!(last.contains("{\"resourceType\":\"Observation\",\"id\":\"broken\""), "{last}");
    app.wait_for_content("[data-testid=data-row][data-line='150000']", "obs-149999").await;
    app.shot("the-last-of-150001-rows").await;

    // Find ignores case and counts; Show all rows comes back.
    app.type_into("[data-testid=find-text]", "HEART RATE").await;
    app.click("[data-testid=find-start]").await;
    app.wait_for_text("[data-testid=table-status]", "150 rows contain").await;
    app.wait_for_content("[data-testid=data-row]", "obs-0").await;
    app.shot("find-heart-rate").await;
    app.click("[data-testid=find-clear]").await;
    app.wait_for_text("[data-testid=table-status]", "150,001 rows").await;

    // Open by id, then follow the subject into the gzipped Patients.
    app.type_into("[data-testid=find-id]", "obs-149998").await;
    app.click("[data-testid=open-id]").await;
    app.wait_for_text("[data-testid=resource-title]", "obs-149998").await;
    app.click_text("[data-testid=json-reference]", "Patient/p").await;
    app.wait_for_text("[data-testid=resource-title]", "Patient / p1").await;
    app.wait_for_text("[data-testid=json-tree]", "Grace").await;
    app.shot("a-patient-from-the-gz-file").await;
    app.quit().await;
}
