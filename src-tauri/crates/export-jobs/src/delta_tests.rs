use super::*;
use haul_store::Database;

#[test]
fn a_stop_in_the_conversion_or_the_merge_is_a_stop() {
    assert!(matches!(DeltaConvertError::from(ConvertError::Cancelled), DeltaConvertError::Cancelled));
    assert!(matches!(DeltaConvertError::from(DatasetError::Cancelled), DeltaConvertError::Cancelled));
    let nested = DatasetError::Convert(ConvertError::Cancelled);
    assert!(matches!(DeltaConvertError::from(nested), DeltaConvertError::Cancelled));
    let other = DatasetError::Busy(PathBuf::from("/x"));
    assert_eq!(DeltaConvertError::from(other).code(), "dataset_busy");
}

#[tokio::test]
async fn a_target_is_a_folder_or_storage_never_a_folder_named_after_another_url() {
    let db = Database::open_in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for url in ["https://example.org/tables", "file:///tmp/tables"] {
        let Err(e) = open_target(&db, url) else { panic!("{url} was taken") };
        assert_eq!(e.code(), "invalid_destination", "{url}: {e}");
        assert!(e.to_string().contains("cannot write to"), "{e}");
    }
    // Taken as paths they would be folders `https:` and `file:` under the working directory.
    assert!(!Path::new("https:").exists() && !Path::new("file:").exists());

    // Vacuuming: a folder that is not there is said, not made; one without tables is said too.
    assert_eq!(check_existing_target("  ").unwrap_err().code(), "delta_no_target");
    let missing = dir.path().join("tables");
    let Err(e) = open_existing_target(&db, &missing.display().to_string()) else {
        panic!("a missing folder was taken")
    };
    assert_eq!(e.code(), "delta_no_tables", "{e}");
    assert!(!missing.exists());
    std::fs::create_dir(&missing).unwrap();
    let dest = open_existing_target(&db, &format!(" {} ", missing.display())).unwrap();
    let e = delta_table::vacuum_tables(&dest, true).await.unwrap_err();
    assert_eq!(e.code(), "delta_no_tables", "{e}");
    assert!(e.to_string().contains(&missing.display().to_string()), "{e}");
}
