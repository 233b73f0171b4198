//! Exports, end to end, against the app's own demo server: bad input, a group export watched to the end,
//! the history entry with its counts, its conversion to Parquet, a cancel, a refused export, and the
//! history after a restart.

use crate::harness::{Display, Driver};

#[tokio::test]
#[ignore = "end-to-end: needs Xvfb and tauri-driver; run by `make e2e` and `make test`"]
async fn a_group_export_runs_to_the_end_and_is_kept_in_history() {
    let data = tempfile::tempdir().unwrap();
    let display = Display::start();
    let driver = Driver::start(&display, data.path(), "exports");

    let app = driver.launch().await;
    // A first run opens on the home screen's way to a first export.
    app.wait_for_text("[data-testid=home-welcome]", "Your first export").await;
    app.shot("home-first-run").await;
    app.click("[data-testid=nav-export]").await;
    app.wait_for_text("[data-testid=export-server]", "Demo server").await;

    // Bad input: a group export without a group id says so, and nothing starts.
    app.click("[data-testid=start-export]").await;
    app.wait_for_text("form", "Enter the Group's id").await;
    app.type_into("[data-testid=export-group]", "https://ehr/fhir/Group/7").await;
    app.wait_for_text("form", "Paste only the id").await;
    app.shot("group-id-refused").await;

    // The Groups page: search, pin, and pick the roster for an export.
    app.click("[data-testid=nav-groups]").await;
    app.wait_for_text("[data-testid=groups-server]", "Demo server").await;
    app.type_into("[data-testid=groups-search]", "aco").await;
    app.wait_for("[data-testid=group-aco-north]").await;
    let count = app.wait_for_text("[data-testid=groups-count]", "groups on this server").await;
    assert!(!count.starts_with('0'), "{count}");
    app.click("[data-testid=pin-aco-north]").await;
    app.wait_for_text("[data-testid=pinned-groups]", "aco-north").await;
    app.shot("groups-search-and-pin").await;
    app.click("[data-testid=export-aco-north]").await;

    // A real export: the request is shown before it is sent.
    app.wait_for("[data-testid=export-group]").await;
    app.click("[data-testid=preset-financial]").await;
    app.wait_for_text("[data-testid=export-request]", "Group/aco-north/$export?").await;
    let request = app
        .wait_for_text("[data-testid=export-request]", "_type=Patient%2CCoverage%2CClaim%2CExplanationOfBenefit")
        .await;
    assert!(request.starts_with("GET http://127.0.0.1:"), "{request}");
    app.shot("export-form").await;
    app.click("[data-testid=start-export]").await;
    app.wait_for("[data-testid=running-export]").await;
    app.shot("export-started").await;
    let done = app.wait_for_text("[data-testid=job-finished]", "Export complete").await;
    assert!(done.contains("all verified"), "{done}");
    let totals = app.wait_for_text("[data-testid=job-totals]", "ExplanationOfBenefit").await;
    assert!(totals.contains("Patient") && totals.contains("Coverage") && totals.contains("Claim"), "{totals}");
    app.shot("export-complete").await;

    // History: the entry with its counts.
    app.click("[data-testid=nav-history]").await;
    app.wait_for_text("[data-testid=history-status-1]", "Completed").await;
    app.click("[data-testid=history-row-1]").await;
    let detail = app.wait_for_text("[data-testid=history-totals]", "Patient").await;
    assert!(detail.contains("Claim"), "{detail}");
    let folder = app.wait_for_text("[data-testid=history-folder]", "exports").await;
    assert!(
        std::path::Path::new(folder.trim()).join("manifest.json").exists(),
        "the folder holds the export: {folder}"
    );
    app.shot("history-entry").await;

    // The bar between the list and the details: End widens the list as far as it goes.
    let list_width = "return document.querySelector('[data-testid=history-list]').getBoundingClientRect().width";
    let before = app.execute(list_width).await.as_f64().unwrap_or(0.0);
    app.wait_for("[data-testid=history-split-handle]").await.send_keys("\u{E010}").await.unwrap();
    let after = app.execute(list_width).await.as_f64().unwrap_or(0.0);
    assert!(after > before + 100.0, "End widens the export list: {before} → {after}");
    app.shot("history-list-widened").await;
    // Enter puts it back (the rest of this test sees the usual layout).
    app.wait_for("[data-testid=history-split-handle]").await.send_keys("\u{E007}").await.unwrap();
    let reset = app.execute(list_width).await.as_f64().unwrap_or(0.0);
    assert!((reset - before).abs() < 1.0, "Enter resets the list's width: {before} → {reset}");

    // Convert to Parquet: progress, then the summary; the tables land in the export's parquet folder.
    app.click("[data-testid=convert-export]").await;
    app.click("[data-testid=convert-start]").await;
    let headline = app.wait_for_text("[data-testid=convert-headline]", "resources in").await;
    assert!(headline.contains("of NDJSON became") && headline.contains("of Parquet"), "{headline}");
    let report = app.wait_for_text("[data-testid=convert-report]", "ExplanationOfBenefit").await;
    assert!(report.contains("Patient"), "{report}");
    for t in ["Patient", "ExplanationOfBenefit"] {
        let table = std::path::Path::new(folder.trim()).join("parquet").join(format!("{t}.parquet"));
        assert!(table.exists(), "{} was written", table.display());
    }
    app.shot("converted-to-parquet").await;

    // The same export as Delta Lake tables in a folder: one table per type, at version 0.
    app.click("[data-testid=convert-close]").await;
    app.click("[data-testid=convert-export]").await;
    app.click("[data-testid=convert-output-delta]").await;
    let lake = std::path::Path::new(folder.trim()).with_file_name("lake");
    app.type_into("[data-testid=delta-target]", lake.to_str().unwrap()).await;
    app.shot("delta-chosen").await;
    app.click("[data-testid=convert-start]").await;
    let headline = app.wait_for_text("[data-testid=delta-headline]", "now hold this export").await;
    assert!(headline.contains("Delta tables"), "{headline}");
    let report = app.wait_for_text("[data-testid=delta-report]", "ExplanationOfBenefit").await;
    assert!(report.contains("Patient"), "{report}");
    assert!(lake.join("Patient/_delta_log/00000000000000000000.json").is_file(), "{}", lake.display());
    app.shot("delta-tables-written").await;
    // Older versions' files: the tables are new, so nothing is old enough to go, and none is offered.
    app.click("[data-testid=delta-vacuum-look]").await;
    let vacuum = app.wait_for_text("[data-testid=delta-vacuum-headline]", "Nothing to remove in").await;
    assert!(vacuum.contains("tables: the files a newer version replaced are kept for 7 days"), "{vacuum}");
    assert!(app.texts("[data-testid=delta-vacuum-remove]").await.is_empty(), "nothing to remove is offered");
    app.shot("delta-vacuum-looked").await;

    // Look inside: the overview (counts from the manifest), a table scrolled to its end, one resource, and a
    // reference followed to the Patient it names.
    app.click("[data-testid=browse-export]").await;
    let overview = app.wait_for_text("[data-testid=files-overview]", "ExplanationOfBenefit").await;
    assert!(overview.contains("Patient") && overview.contains("None: no error files"), "{overview}");
    app.shot("files-overview").await;
    app.click("[data-testid=type-ExplanationOfBenefit]").await;
    let mut status = app.wait_for_text("[data-testid=table-status]", " rows").await;
    // On a busy machine the first status may still be "0 rows so far — indexing": wait for the count.
    for _ in 0..100 {
        if !status.contains("so far") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        status = app.texts("[data-testid=table-status]").await.concat();
    }
    let rows: u64 = status.split_whitespace().next().unwrap().replace(',', "").parse().unwrap();
    assert!(rows > 100, "{status}");
    app.wait_for_content("[data-testid=data-row]", "eob-").await;
    let body = serde_json::to_value(app.wait_for("[data-testid=data-body]").await).unwrap();
    app.client.execute("arguments[0].scrollTop = arguments[0].scrollHeight;", vec![body]).await.unwrap();
    // Rows are read as they scroll into view: the last one's line number is the row count.
    let last = format!("[data-testid=data-row][data-line='{rows}']");
    app.wait_for_content(&last, "eob-").await;
    app.shot("files-table-scrolled-to-the-end").await;
    app.click(&last).await;
    app.wait_for_text("[data-testid=resource-title]", "ExplanationOfBenefit /").await;
    app.wait_for_text("[data-testid=json-tree]", "\"resourceType\"").await;
    app.shot("files-resource-at-the-end-of-the-table").await;
    app.click_text("[data-testid=json-reference]", "Patient/").await;
    app.wait_for_text("[data-testid=resource-title]", "Patient /").await;
    app.wait_for_text("[data-testid=json-tree]", "\"birthDate\"").await;
    app.shot("files-reference-followed").await;
    app.click("[data-testid=resource-back]").await;
    app.wait_for_text("[data-testid=resource-title]", "ExplanationOfBenefit /").await;
    app.click("[data-testid=files-charts-tab]").await;
    app.wait_for_text("[data-testid=charts]", "Patients by gender").await;
    app.shot("files-charts").await;
    let charts = app.wait_for_content("[data-testid=charts]", "ExplanationOfBenefit").await;
    assert!(charts.contains("female") && charts.contains("875"), "{charts}");

    // Cancel while the demo server prepares (it takes a few seconds).
    app.click("[data-testid=nav-export]").await;
    app.click("[data-testid=level-system]").await;
    app.click("[data-testid=start-export]").await;
    app.wait_for_text("[data-testid=job-state]", "Waiting for the server").await;
    app.click("[data-testid=cancel-export]").await;
    app.shot("cancel-confirm").await;
    app.click("[data-testid=confirm-cancel]").await;
    app.wait_for_text("[data-testid=job-finished]", "cancelled").await;
    app.shot("export-cancelled").await;

    // A refused export: the server's own words, in plain sight.
    app.click("[data-testid=new-export]").await;
    app.click("[data-testid=level-group]").await;
    app.type_into("[data-testid=export-group]", "no-such-group").await;
    app.click("[data-testid=start-export]").await;
    let failed = app.wait_for_text("[data-testid=job-finished]", "HTTP 404").await;
    assert!(failed.contains("The server refused to start the export"), "{failed}");
    app.shot("export-refused").await;
    app.quit().await;

    // After a restart the history is all there.
    let app = driver.launch().await;
    app.click("[data-testid=nav-history]").await;
    app.wait_for_text("[data-testid=history-status-1]", "Completed").await;
    app.wait_for_text("[data-testid=history-status-2]", "Cancelled").await;
    app.wait_for_text("[data-testid=history-status-3]", "Failed").await;
    app.click("[data-testid=history-row-3]").await;
    app.wait_for_text("[data-testid=history-detail]", "HTTP 404").await;
    app.shot("history-after-restart").await;
    // A returning user's home screen: recent exports, and the request made before, one click away.
    app.click("[data-testid=nav-home]").await;
    app.wait_for_text("[data-testid=home-recent]", "Completed").await;
    app.wait_for("[data-testid=home-again-1]").await;
    app.shot("home-returning").await;
    app.click("[data-testid=nav-history]").await;

    // The first export's log, then an incremental run of it, then its files deleted (asking first).
    app.click("[data-testid=history-row-1]").await;
    // The less used actions are under More.
    app.click("[data-testid=more-actions]").await;
    app.click("[data-testid=show-log]").await;
    app.wait_for_text("[data-testid=export-text]", "Export complete: 1,892 resources").await;
    app.shot("history-log").await;
    app.click("[data-testid=more-actions]").await;
    app.click("[data-testid=rerun-incremental]").await;
    let done = app.wait_for_text("[data-testid=job-finished]", "Export complete").await;
    // Nothing changed on the demo server since, but some resources were deleted: said, not "0 resources".
    assert!(done.contains("resources deleted since then (listed in deleted/)"), "{done}");
    assert!(!done.contains("0 resources in 0 files"), "{done}");
    app.shot("incremental-rerun").await;

    // The incremental run beside the full one it continues: changes only, with the deletions it reported.
    app.click("[data-testid=nav-history]").await;
    app.click("[data-testid=history-row-4]").await;
    app.wait_for_text("[data-testid=history-deletions]", "resources").await;
    app.click("[data-testid=compare-run]").await;
    let compared = app.wait_for_text("[data-testid=comparison]", "changes only").await;
    assert!(compared.contains("Patient"), "{compared}");
    app.wait_for("[data-testid=comparison-chart]").await;
    app.shot("compare-runs").await;

    // Repeat it monthly: the system scheduler's files are written (no user session here to start them).
    app.click("[data-testid=repeat-add]").await;
    app.wait_for_text("[data-testid=repeat-note]", "haul-schedule-1.timer").await;
    app.wait_for_text("[data-testid=repeat-list]", "monthly at 06:00 (not run yet)").await;
    let timer = data.path().join("config/systemd/user/haul-schedule-1.timer");
    assert!(std::fs::read_to_string(&timer).unwrap().contains("OnCalendar=*-*-01 06:00:00"));
    app.shot("repeat-monthly").await;
    app.click("[data-testid=history-row-1]").await;
    app.click("[data-testid=more-actions]").await;
    app.click("[data-testid=delete-files]").await;
    app.click("[data-testid=confirm-delete-files]").await;
    app.wait_for_text("[data-testid=history-detail]", "The files were deleted").await;
    assert!(!std::path::Path::new(folder.trim()).exists(), "the folder is gone");
    // The entry says so, and offers nothing that would open the files.
    app.wait_for_text("[data-testid=history-files-gone]", "no longer in").await;
    assert!(app.texts("[data-testid=browse-export]").await.is_empty(), "Look inside is not offered");
    app.wait_for_text("[data-testid=history-status-4]", "Completed").await;
    app.shot("files-deleted").await;

    // The smallest supported size still holds the pages (looked at in the screenshots).
    app.resize(1024, 700).await;
    // Let the page lay itself out again before the picture.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.shot("history-at-1024x700").await;
    app.click("[data-testid=nav-export]").await;
    app.wait_for("[data-testid=start-export]").await;
    app.shot("export-form-at-1024x700").await;
    app.click("[data-testid=nav-groups]").await;
    app.wait_for_text("[data-testid=pinned-groups]", "aco-north").await;
    app.quit().await;
}
