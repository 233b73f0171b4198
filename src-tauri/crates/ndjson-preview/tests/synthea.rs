//! The preview against the shared Synthea sample (gzipped NDJSON, 18 types, 38,971 resources), and against
//! plain NDJSON with bad lines, files that change, and a cancelled index. Expected figures come from the
//! sample itself (`zcat X.ndjson.gz | wc -l`, `| grep -ic …`), not from this code.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use ndjson_preview::overview::CountSource;
use ndjson_preview::{PreviewError, PreviewFolder, PreviewOptions, TypeCheck};

fn synthea() -> PathBuf {
    // The project's shared folder sits beside the repository (as in CI); HAUL_SHARED_DIR points elsewhere.
    let shared = std::env::var_os("HAUL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared"));
    let dir = shared.join("data/synthea-r4");
    assert!(
        dir.is_dir(),
        "the Synthea sample is missing at {}: set HAUL_SHARED_DIR to the shared folder",
        dir.display()
    );
    dir
}

fn no_cancel() -> AtomicBool {
    AtomicBool::new(false)
}

fn open(folder: &Path, cache: &Path) -> PreviewFolder {
    PreviewFolder::open(folder, PreviewOptions::new(cache.to_path_buf())).unwrap()
}

const TYPE_COUNTS: [(&str, u64); 18] = [
    ("AllergyIntolerance", 38),
    ("CarePlan", 278),
    ("CareTeam", 278),
    ("Claim", 6083),
    ("Condition", 639),
    ("Device", 4),
    ("DiagnosticReport", 897),
    ("Encounter", 3697),
    ("ExplanationOfBenefit", 3697),
    ("Group", 1),
    ("ImagingStudy", 16),
    ("Immunization", 1287),
    ("MedicationRequest", 2386),
    ("Observation", 16315),
    ("Organization", 452),
    ("Patient", 100),
    ("Practitioner", 452),
    ("Procedure", 2351),
];

#[test]
fn every_type_is_indexed_counted_and_paged() {
    let cache = tempfile::tempdir().unwrap();
    let folder = open(&synthea(), cache.path());
    let before = folder.overview();
    assert_eq!(before.types.len(), 18);
    assert!(!before.has_manifest);
    assert!(before.types.iter().all(|t| t.count_source == CountSource::Pending && t.compressed));

    for t in folder.resource_types() {
        folder.index_type(&t, &|_| {}, &no_cancel()).unwrap();
    }
    let after = folder.overview();
    let counts: Vec<(&str, u64)> = after.types.iter().map(|t| (t.resource_type.as_str(), t.count.unwrap())).collect();
    assert_eq!(counts, TYPE_COUNTS);
    assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), 38_971);
    assert!(after.types.iter().all(|t| t.count_source == CountSource::Counted));

    // First page, a page in the middle, the last page and past the end.
    let first = folder.page("Observation", 0, 50).unwrap();
    assert_eq!((first.rows.len(), first.total_rows, first.complete), (50, 16_315, true));
    assert_eq!(first.headings, ["id", "Code", "Value", "Effective", "Subject"]);
    let r0 = &first.rows[0];
    assert_eq!(r0.id.as_deref(), Some("cdec68f5-5a6a-4861-b26b-f4061ff4f2f9"));
    assert_eq!(
        r0.cells,
        ["Body Height", "181.2 cm", "2011-02-02 16:30", "Patient/6c5d9ca9-54d7-42f5-bfae-a7c19cd217f2"]
    );
    assert_eq!((r0.line, r0.problem.as_deref()), (1, None));
    let middle = folder.page("Observation", 8_000, 100).unwrap();
    assert_eq!(middle.rows.iter().map(|r| r.row).collect::<Vec<_>>(), (8_000..8_100).collect::<Vec<_>>());
    assert!(middle.rows.iter().all(|r| r.problem.is_none() && r.id.is_some() && !r.cells[0].is_empty()));
    let last = folder.page("Observation", 16_300, 100).unwrap();
    assert_eq!(last.rows.len(), 15);
    assert_eq!(last.rows.last().unwrap().line, 16_315);
    assert!(folder.page("Observation", 20_000, 10).unwrap().rows.is_empty());

    // Each common type's columns are filled in on its first row.
    for (t, filled) in [
        ("Patient", 3),
        ("Condition", 3),
        ("Encounter", 3),
        ("MedicationRequest", 3),
        ("ExplanationOfBenefit", 3),
        ("Claim", 3),
    ] {
        let page = folder.page(t, 0, 1).unwrap();
        let cells = &page.rows[0].cells;
        assert_eq!(cells.iter().filter(|c| !c.is_empty()).count(), filled, "{t}: {cells:?}");
    }
    let patient = &folder.page("Patient", 0, 1).unwrap().rows[0];
    assert!(["male", "female"].contains(&patient.cells[1].as_str()));

    // The whole resource, and the reference in it followed to its Patient.
    let text = folder.resource("Observation", 0).unwrap();
    assert!(text.text.starts_with("{\"resourceType\":\"Observation\""));
    let located = folder.lookup("Patient/6c5d9ca9-54d7-42f5-bfae-a7c19cd217f2", &no_cancel()).unwrap().unwrap();
    assert_eq!(located.resource_type, "Patient");
    let p = folder.rows("Patient", &[located.row]).unwrap();
    assert_eq!(p[0].id.as_deref(), Some("6c5d9ca9-54d7-42f5-bfae-a7c19cd217f2"));
    assert_eq!(folder.lookup("Patient/not-in-this-export", &no_cancel()).unwrap(), None);
    assert_eq!(folder.lookup("Medication/x", &no_cancel()).unwrap(), None);
    assert!(matches!(folder.resource("Observation", 16_315), Err(PreviewError::NoSuchRow { .. })));
}

#[test]
fn find_streams_matching_rows_and_can_stop() {
    let cache = tempfile::tempdir().unwrap();
    let folder = open(&synthea(), cache.path());
    let mut rows = Vec::new();
    let mut batches = 0;
    let summary = folder
        .find(
            "Observation",
            "BODY height",
            &mut |b| {
                batches += 1;
                rows.extend(b.rows);
            },
            &no_cancel(),
        )
        .unwrap();
    // zcat Observation.ndjson.gz | grep -ic "body height"  → 968
    assert_eq!((summary.matches, summary.capped, summary.stopped), (968, false, false));
    assert_eq!(rows.len(), 968);
    assert!(batches >= 1);
    let shown = folder.rows("Observation", &rows[..20]).unwrap();
    assert!(shown.iter().all(|r| r.cells[0] == "Body Height"), "{:?}", shown[0].cells);
    assert!(rows.windows(2).all(|w| w[0] < w[1]));

    let stop = AtomicBool::new(true);
    let stopped = folder.find("Observation", "final", &mut |_| {}, &stop);
    assert!(matches!(stopped, Err(PreviewError::Cancelled)) || stopped.unwrap().stopped);
    assert!(matches!(folder.find("Observation", "  ", &mut |_| {}, &no_cancel()), Err(PreviewError::EmptyQuery)));

    let id = folder.find_id("Observation", "cdec68f5-5a6a-4861-b26b-f4061ff4f2f9", &no_cancel()).unwrap();
    assert_eq!(id, Some(0));
}

#[test]
fn chart_counts_match_the_sample() {
    let cache = tempfile::tempdir().unwrap();
    let folder = open(&synthea(), cache.path());
    let charts = folder.charts(&|_, _| {}, &no_cancel()).unwrap();
    assert_eq!(charts.per_type.iter().map(|c| c.count).sum::<u64>(), 38_971);
    assert_eq!(charts.per_type[0].label, "Observation");
    assert_eq!(charts.per_type[0].count, 16_315);
    assert_eq!(charts.invalid_lines, 0);
    // grep -c '"gender":"female"' / '"gender":"male"' on Patient.ndjson.gz
    let gender: Vec<(&str, u64)> = charts.gender.iter().map(|g| (g.label.as_str(), g.count)).collect();
    assert_eq!(gender, [("male", 60), ("female", 40)]);
    assert_eq!(charts.age.iter().map(|a| a.count).sum::<u64>(), 100);
    let top = &charts.observation_codes[0];
    assert_eq!((top.system.as_str(), top.code.as_str(), top.count), ("http://loinc.org", "72514-3", 1026));
    assert_eq!(charts.observation_codes.len(), 20);
    let top = &charts.condition_codes[0];
    assert_eq!((top.code.as_str(), top.count), ("444814009", 106));
    assert_eq!(charts.per_month.iter().map(|m| m.count).sum::<u64>() + charts.undated, 38_971);
    assert!(charts.per_month.windows(2).all(|w| w[0].label < w[1].label));
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn bad_lines_are_rows_with_a_problem_and_changed_files_are_indexed_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let file = dir.path().join("Patient.000.ndjson");
    write(
        &file,
        "{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"female\"}\n\
         {\"resourceType\":\"Patient\",\"id\":\"b\"\n\
         \n\
         {\"resourceType\":\"Observation\",\"id\":\"c\"}\r\n\
         [1,2]\n\
         {\"resourceType\":\"Patient\",\"id\":\"d\"}",
    );
    let folder = open(dir.path(), cache.path());
    folder.index_type("Patient", &|_| {}, &no_cancel()).unwrap();
    let page = folder.page("Patient", 0, 10).unwrap();
    let problems: Vec<Option<&str>> = page.rows.iter().map(|r| r.problem.as_deref()).collect();
    assert_eq!(page.rows.len(), 6);
    assert_eq!(problems[0], None);
    // The line rule's words, as in the export's quarantine file and Convert's bad-lines report.
    assert!(problems[1].unwrap().starts_with("not valid JSON: expected ',' or '}' in an object at column 35"));
    assert!(problems[1].unwrap().contains("{\"resourceType\":\"Patient\",\"id\":\"b\""), "{problems:?}");
    assert_eq!(problems[2], Some("Blank line"));
    assert_eq!(problems[3], Some("resourceType is \"Observation\", expected \"Patient\""));
    assert_eq!(page.rows[3].id.as_deref(), Some("c"), "a line of the wrong type still shows its columns");
    assert_eq!(problems[4], Some("not a JSON object: [1,2]"));
    assert_eq!((page.rows[5].id.as_deref(), page.rows[5].line, problems[5]), (Some("d"), 6, None));
    assert_eq!(folder.overview().types[0].count, Some(5)); // six lines, one blank

    // The whole type checked by the same rule: the rows marked above, and the charts leave them out.
    let mut bad = Vec::new();
    let check = folder.check_type("Patient", &mut |b| bad.push((b.row, b.line, b.problem.to_string())), &no_cancel());
    assert_eq!(check.unwrap(), TypeCheck { rows: 6, blank: 1, resources: 2, bad: 3 });
    let from_pages: Vec<(u64, u64, String)> = page
        .rows
        .iter()
        .filter(|r| r.problem.as_deref().is_some_and(|p| p != "Blank line"))
        .map(|r| (r.row, r.line, r.problem.clone().unwrap()))
        .collect();
    // The same rows and the same rule's words; a row that is not an object goes on with what the line holds.
    assert_eq!(bad.len(), from_pages.len());
    for ((row, line, problem), (page_row, page_line, shown)) in bad.iter().zip(&from_pages) {
        assert_eq!((row, line), (page_row, page_line));
        assert!(shown.starts_with(problem.as_str()), "{shown:?} vs {problem:?}");
    }
    let charts = folder.charts(&|_, _| {}, &no_cancel()).unwrap();
    assert_eq!((charts.per_type[0].count, charts.invalid_lines), (2, 3));

    // The file grows underneath: the next read says so, and indexing again shows the new row.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(&file, "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Patient\",\"id\":\"e\"}\n");
    assert!(matches!(folder.page("Patient", 0, 10), Err(PreviewError::Changed { .. })));
    folder.index_type("Patient", &|_| {}, &no_cancel()).unwrap();
    let page = folder.page("Patient", 0, 10).unwrap();
    assert_eq!(page.rows.iter().map(|r| r.id.clone().unwrap()).collect::<Vec<_>>(), ["a", "e"]);

    // A second window on the same folder finds the index already built.
    let again = open(dir.path(), cache.path());
    assert!(again.progress("Patient").unwrap().complete);
}

#[test]
fn an_export_with_only_deletions_shows_them() {
    // An incremental export in which nothing changed but some resources were deleted: its log and its
    // deleted/ Bundles (issue 18: "There are no NDJSON files" was said of it).
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write(&dir.path().join("log.ndjson"), "{\"kind\":\"kickoff\"}\n");
    std::fs::create_dir(dir.path().join("deleted")).unwrap();
    write(
        &dir.path().join("deleted/Bundle.000.ndjson"),
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"request\":{\"method\":\"DELETE\",\"url\":\"Patient/p1\"}}]}\n",
    );
    let folder = open(dir.path(), cache.path());
    assert_eq!(folder.resource_types(), ["Bundle"]);
    assert!(folder.file_paths()[0].ends_with("deleted/Bundle.000.ndjson"));
}

#[test]
fn a_folder_without_ndjson_says_so_and_a_cancelled_index_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write(&dir.path().join("notes.txt"), "hello");
    match PreviewFolder::open(dir.path(), PreviewOptions::new(cache.path().into())) {
        Err(e @ PreviewError::NoNdjson { .. }) => assert!(e.to_string().contains("There are no NDJSON files")),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("opened a folder with no NDJSON"),
    }

    let mut big = String::new();
    for i in 0..300_000 {
        big.push_str(&format!(
            "{{\"resourceType\":\"Basic\",\"id\":\"b{i}\",\"meta\":{{\"lastUpdated\":\"2024-01-01T00:00:00Z\"}}}}\n"
        ));
    }
    write(&dir.path().join("Basic.ndjson"), &big);
    let folder = open(dir.path(), cache.path());
    let cancel = AtomicBool::new(true);
    assert!(matches!(folder.index_type("Basic", &|_| {}, &cancel), Err(PreviewError::Cancelled)));
    assert!(!folder.progress("Basic").unwrap().complete);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    let seen = std::sync::Mutex::new(Vec::new());
    folder.index_type("Basic", &|p| seen.lock().unwrap().push(p.rows), &no_cancel()).unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() >= 2, "progress came once per 8 MB and at the end: {seen:?}");
    assert_eq!(*seen.last().unwrap(), 300_000);
    let page = folder.page("Basic", 299_990, 100).unwrap();
    assert_eq!(page.rows.len(), 10);
    assert_eq!(page.rows[9].cells, ["2024-01-01 00:00"]);
}

#[test]
fn rows_are_saved_as_csv_that_a_csv_reader_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("Patient.000.ndjson"),
        "{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"female\",\"name\":[{\"family\":\"O'Brien, \\\"Jr\\\"\",\"given\":[\"Ann\"]}]}\n\
         not json\n\
         {\"resourceType\":\"Patient\",\"id\":\"c\",\"birthDate\":\"1980-02-03\"}\n",
    );
    let folder = open(dir.path(), cache.path());
    folder.index_type("Patient", &|_| {}, &no_cancel()).unwrap();
    let out = dir.path().join("out").join("patients.csv");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    assert_eq!(folder.save_csv("Patient", &[2, 0, 1], &out).unwrap(), 3);
    assert!(!out.with_file_name("patients.csv.partial").exists(), "the partial file became the file");

    let mut reader = csv::Reader::from_path(&out).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, ["file", "line", "id", "Name", "Gender", "Birth date", "problem"]);
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    // In the order asked for; quotes and commas in a name survive the round trip.
    assert_eq!(rows[0][..3], ["Patient.000.ndjson", "3", "c"]);
    assert_eq!(rows[0][5], "1980-02-03");
    assert_eq!(rows[1][2], "a");
    assert!(rows[1][3].contains("O'Brien, \"Jr\""), "{:?}", rows[1]);
    assert_eq!(rows[1][4], "female");
    // The bad line: its problem in the last column.
    assert_eq!(rows[2][1], "2");
    assert!(rows[2][6].starts_with("not valid JSON"), "{:?}", rows[2]);

    // A row past the end: nothing is left under the chosen name, and the reason is given.
    let bad = dir.path().join("out").join("bad.csv");
    assert!(matches!(folder.save_csv("Patient", &[0, 99], &bad), Err(PreviewError::NoSuchRow { .. })));
    assert!(!bad.exists() && !bad.with_file_name("bad.csv.partial").exists());
}
