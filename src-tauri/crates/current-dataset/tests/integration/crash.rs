//! kill -9 in the middle of an update: the dataset stays at its previous version, and the next run completes.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use current_dataset::Dataset;

use crate::months::{full_update, incremental_update};
use crate::world::{World, assert_same, dataset_contents};

const CHILD: &str = "HAUL_DATASET_CRASH_CHILD";

fn world() -> (World, World) {
    let before = World::new(1500, 40);
    let mut after = World::new(1500, 40);
    after.advance(false);
    (before, after)
}

/// Run by the test below in a process of its own (and a no-op otherwise): applies month 1 to the dataset.
#[test]
fn child_applies_an_update_when_asked() {
    let Some(root) = std::env::var_os(CHILD).map(PathBuf::from) else { return };
    let (before, after) = world();
    let update = incremental_update(&after, &before.members, &root.join("exports"), 2);
    let mut dataset = Dataset::open(&root.join("dataset")).unwrap();
    dataset.keep_views(views());
    dataset.apply(&update, &fhir_tables::ConvertOptions::default(), &AtomicBool::new(false)).unwrap();
}

fn views() -> Vec<fhir_views::View> {
    ["patient", "observation"].iter().map(|n| fhir_views::built_in(n).unwrap()).collect()
}

/// The rows of each kept view as the state records them, checked against its file.
fn view_rows(dir: &std::path::Path, dataset: &Dataset) -> Vec<u64> {
    dataset
        .state()
        .views
        .iter()
        .map(|(name, kept)| {
            let file = std::fs::File::open(dir.join("views").join(format!("{name}.parquet"))).unwrap();
            let rows = parquet::file::reader::SerializedFileReader::new(file).unwrap();
            use parquet::file::reader::FileReader;
            assert_eq!(rows.metadata().file_metadata().num_rows() as u64, kept.rows, "{name}");
            kept.rows
        })
        .collect()
}

#[test]
fn kill_9_during_an_update_leaves_the_previous_version_and_the_next_run_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (before, after) = world();
    {
        let mut dataset = Dataset::open(&root.join("dataset")).unwrap();
        dataset.keep_views(views());
        dataset
            .apply(&full_update(&before, &root.join("exports"), 1), &Default::default(), &AtomicBool::new(false))
            .unwrap();
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash::child_applies_an_update_when_asked", "--exact", "--test-threads=1"])
        .env(CHILD, root)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The merge has begun once the incoming rows are being converted in the staging folder.
    let staging = root.join("dataset").join(".next").join("incoming");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !staging.exists() {
        assert!(Instant::now() < deadline, "the update never started");
        assert!(child.try_wait().unwrap().is_none(), "the update finished before it could be stopped");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let mut dataset = Dataset::open(&root.join("dataset")).unwrap();
    assert_eq!(dataset.state().applied.len(), 1, "the interrupted update must not count");
    assert!(!root.join("dataset").join(".next").exists());
    assert_same(&dataset_contents(&root.join("dataset")), &before.state());
    // The views stay at the previous version with the tables.
    let rows_before = view_rows(&root.join("dataset"), &dataset);
    assert_eq!(rows_before.len(), 2);

    dataset.keep_views(views());
    let update = incremental_update(&after, &before.members, &root.join("exports"), 2);
    dataset.apply(&update, &Default::default(), &AtomicBool::new(false)).unwrap();
    assert_same(&dataset_contents(&root.join("dataset")), &after.state());
    assert_ne!(view_rows(&root.join("dataset"), &dataset), rows_before, "the completed update moved the views on");
}
