//! `haul export --out s3://…`, `az://…` and `gs://…` against storage servers on loopback: moto's S3 server
//! (the most complete S3 emulator on PyPI: multipart uploads and conditional writes included), Azurite
//! (Microsoft's own Azure Storage emulator, from npm), and GCS's XML API and sign-in in front of moto. Every
//! export is compared object by object, byte for byte, with the same export to a folder, read back with the
//! storage servers' own Python SDKs (boto3 for S3, and for GCS from moto behind the front; azure-storage-blob);
//! a `kill -9` in the middle of a multipart upload resumes after the parts already sent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bulk_sim::{Faults, RunningSim, SimConfig};

use super::storage_servers::{Haul, Storage, files_under, finished, text};

/// A folder export's files as a storage export names them: `Type.NNN.ndjson` → `Type/part-NNN.ndjson`,
/// `error/…`, `deleted/…` and `quarantine/…` under `_haul/`.
fn as_objects(folder: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (name, bytes) in files_under(folder) {
        if !name.ends_with(".ndjson") || name == "log.ndjson" {
            continue;
        }
        let object = match name.split_once('/') {
            Some(_) => format!("_haul/{name}"),
            None => {
                let (t, n) = name.strip_suffix(".ndjson").unwrap().rsplit_once('.').unwrap();
                format!("{t}/part-{n}.ndjson")
            }
        };
        out.insert(object, bytes);
    }
    out
}

/// Files over 8 MiB (Observation, about 9 MB), so uploads go in parts.
async fn sim() -> RunningSim {
    sim_of(300).await
}

/// 600 patients: Observation is about 19 MB.
async fn sim_of(patients: u64) -> RunningSim {
    RunningSim::start(SimConfig {
        data: bulk_sim::DataSource::Generated { seed: 11, patients },
        resources_per_file: 50_000,
        prepare_time: Duration::from_millis(200),
        poll_interval_seconds: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn export_args<'a>(base: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["export", "--fhir-url", base, "--parallel", "3", "--out", out]
}

/// The export's partition in the storage, `<prefix>/export_date=…`, from what the storage holds.
fn partition(objects: &BTreeMap<String, Vec<u8>>) -> String {
    let first = objects.keys().next().expect("objects in the storage");
    first.split('/').next().unwrap().to_string()
}

/// Objects of one partition, by name under it.
fn in_partition(objects: &BTreeMap<String, Vec<u8>>, partition: &str) -> BTreeMap<String, Vec<u8>> {
    objects
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&format!("{partition}/")).map(|k| (k.to_string(), v.clone())))
        .collect()
}

fn only_data(objects: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    objects
        .iter()
        .filter(|(k, _)| k.ends_with(".ndjson") && *k != "_haul/log.ndjson")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

async fn equals_a_folder_export(storage: Storage, faults: Faults) {
    let sim = sim().await;
    sim.set_faults(faults);
    let base = sim.base_url();
    let haul = Haul::new();
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    let o = haul.run(&storage, &export_args(&base, reference.to_str().unwrap()));
    assert!(finished(&o), "{}", text(&o));
    let expected = as_objects(&reference);
    assert!(expected.keys().any(|k| k == "Observation/part-000.ndjson"), "{:?}", expected.keys());
    assert!(expected["Observation/part-000.ndjson"].len() > 8 << 20, "a file that takes more than one part");

    let address = format!("{}/monthly/aco", storage.root);
    let o = haul.run(&storage, &export_args(&base, &address));
    assert!(finished(&o), "{}", text(&o));
    assert!(text(&o).contains(&format!("Storage: {address}")), "{}", text(&o));
    let all = storage.objects("monthly/aco");
    let part = partition(&all);
    assert!(part.starts_with("export_date=20"), "{part}");
    let objects = in_partition(&all, &part);
    assert_eq!(only_data(&objects), expected, "byte for byte what the export to a folder holds");
    for side in ["_haul/export.json", "_haul/manifest.json", "_haul/haul-report.json", "_haul/log.ndjson"] {
        assert!(objects.contains_key(side), "{side} in {:?}", objects.keys());
    }
    // The local folder keeps Haul's own files and no resource file.
    let jobs = haul.database().list_jobs(10).unwrap();
    let local = PathBuf::from(&jobs.iter().find(|j| j.settings.destination.is_some()).unwrap().out_dir);
    assert!(local.join("manifest.json").exists());
    let left: Vec<String> = files_under(&local)
        .into_keys()
        .filter(|n| !n.contains('/') && n.ends_with(".ndjson") && n != "log.ndjson")
        .collect();
    assert!(left.is_empty(), "no resource file stays on local disk: {left:?}");

    // A second export of the same day into the same prefix is refused, and the first stays as it was.
    let o = haul.run(&storage, &export_args(&base, &address));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("already holds another export of that day"), "{}", text(&o));
    assert_eq!(storage.objects("monthly/aco"), all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_into_s3_equals_an_export_into_a_folder() {
    // The connection drops once per file after 8.7 MB: the 9 MB file has sent a part, and the retry continues
    // after it.
    let faults = Faults { drop_after_bytes: Some(8_700_000), drop_times_per_file: 1, ..Faults::default() };
    equals_a_folder_export(Storage::moto(), faults).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_into_gcs_equals_an_export_into_a_folder() {
    // As for S3, through GCS's XML API, signed in with a service account's key file.
    let faults = Faults { drop_after_bytes: Some(8_700_000), drop_times_per_file: 1, ..Faults::default() };
    equals_a_folder_export(Storage::gcs(), faults).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_end_in_s3_as_they_end_in_a_folder() {
    // A gzip body that inflates past the limit, a 20 MB line with no end, a body cut short at every try: each
    // file is refused or set aside exactly as in a folder, and nothing of the refused ones reaches the storage.
    let storage = Storage::moto();
    let sim = sim().await;
    sim.set_faults(Faults { gzip_bomb_bytes: Some(3 << 30), giant_line_bytes: Some(20_000_000), ..Faults::default() });
    let base = sim.base_url();
    let haul = Haul::new();
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    let folder = haul.run(&storage, &export_args(&base, reference.to_str().unwrap()));
    let address = format!("{}/hostile", storage.root);
    let stored = haul.run(&storage, &export_args(&base, &address));
    assert_eq!(folder.status.code(), stored.status.code(), "{}\n---\n{}", text(&folder), text(&stored));
    assert!(!folder.status.success(), "{}", text(&folder));
    let all = storage.objects("hostile");
    let objects = in_partition(&all, &partition(&all));
    assert_eq!(only_data(&objects), as_objects(&reference));
    let db = haul.database();
    let states =
        |id| db.job_files(id).unwrap().into_iter().map(|f| (f.name, f.state, f.error_kind)).collect::<Vec<_>>();
    assert_eq!(states(1), states(2), "every file ended the same way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_into_azure_blob_with_bad_lines_equals_an_export_into_a_folder() {
    // Bad lines send a file through the folder (quarantine and all) before it goes up.
    let faults = Faults { malformed_lines: 2, ..Faults::default() };
    equals_a_folder_export(Storage::azurite(), faults).await;
}

/// A `haul` started in the background, its output kept in a file so a failure can show it.
struct Background {
    child: std::process::Child,
    log: tempfile::NamedTempFile,
}

impl Background {
    fn start(mut command: std::process::Command) -> Background {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = command.stdout(log.reopen().unwrap()).stderr(log.reopen().unwrap()).spawn().unwrap();
        Background { child, log }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Until export `id`'s Observation file (19 MB with 600 patients) has a part in the storage. A haul that
    /// ends first fails the test with what it printed.
    fn wait_for_a_part_of_observation(&mut self, haul: &Haul, id: i64) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let db = haul.database();
            let sent = db.job_files(id).is_ok_and(|files| {
                files
                    .iter()
                    .filter(|f| f.name.starts_with("Observation."))
                    .any(|f| db.file_upload(id, f.seq).ok().flatten().is_some_and(|u| u.contains("\"parts\":[\"")))
            });
            if sent {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                let job = db.get_job(id).ok().flatten().map(|j| format!("{j:?}"));
                let files = db.job_files(id).map(|f| format!("{f:?}"));
                panic!(
                    "haul ended ({status}) before a part of Observation was sent:\n{}\n{job:?}\n{files:?}",
                    self.output()
                );
            }
            assert!(Instant::now() < deadline, "timed out waiting for a part of Observation sent:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// With `remade`, the server makes each file again before its third request (the reference export's is the
/// first, the killed run's the second): the resume's `If-Range` names the version the parts sent hold, the
/// server answers with the new file whole, and the upload starts over, never splicing two versions. Without
/// `validators` (no ETag, no Last-Modified) there is no version to name: the resume asks again for the end of
/// the last part sent and compares it with the digest noted with that part.
async fn killed_mid_upload_then_resumed(storage: Storage, remade: bool, validators: bool) {
    let sim = sim_of(600).await;
    let base = sim.base_url();
    let haul = Haul::new();
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    let o = haul.run(&storage, &export_args(&base, reference.to_str().unwrap()));
    assert!(o.status.success(), "{}", text(&o));
    let expected = as_objects(&reference);

    // 2 MB/s: the 19 MB file has sent its first part (8 MiB) after about 4 s, and has 5 s more to come.
    let change = remade.then_some(3);
    sim.set_faults(Faults {
        file_bytes_per_second: Some(2_000_000),
        files_change_at_request: change,
        no_validators: !validators,
        ..Faults::default()
    });
    let address = format!("{}/resumed", storage.root);
    let mut running = Background::start(haul.command(&storage, &export_args(&base, &address)));
    // Killed once the 19 MB file has a part in the storage (other files may be anywhere).
    running.wait_for_a_part_of_observation(&haul, 2);
    running.child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    running.child.wait().unwrap();
    // A file not verified when the process died shows no partial object: an upload appears only complete.
    let before = storage.objects("resumed");
    let db = haul.database();
    let unfinished: Vec<String> = db
        .job_files(2)
        .unwrap()
        .into_iter()
        .filter(|f| f.state != haul_store::FileState::Verified)
        .map(|f| f.name)
        .collect();
    assert!(!unfinished.is_empty(), "the kill came before the end");
    for name in &unfinished {
        let (t, n) = name.strip_suffix(".ndjson").unwrap().rsplit_once('.').unwrap();
        let object = format!("{t}/part-{n}.ndjson");
        // Killed between the upload's completion and the row's update, an object may be there: whole.
        for (_, bytes) in before.iter().filter(|(k, _)| k.ends_with(&format!("/{object}"))) {
            assert_eq!(Some(bytes), expected.get(&object), "{object} shows only complete");
        }
    }
    let multipart = unfinished.iter().any(|n| n.starts_with("Observation."));
    assert!(multipart, "the kill came in the middle of the multipart upload: {unfinished:?}");

    sim.set_faults(Faults { files_change_at_request: change, no_validators: !validators, ..Faults::default() });
    let o = haul.run(&storage, &["resume"]);
    assert!(o.status.success(), "{}", text(&o));
    let observation = text(&o)
        .lines()
        .find(|l| l.starts_with("download Observation.000.ndjson"))
        .and_then(|l| l.split("resuming at byte ").nth(1))
        .and_then(|n| n.trim_end_matches(')').parse::<u64>().ok());
    assert!(observation.is_some_and(|at| at > 8_000_000), "Observation resumed after its first part: {}", text(&o));
    if remade && !validators {
        // The end of the part sent, asked for again, differed: the file starts over, said so, and is streamed
        // whole (not spliced and then caught by the line checks, which a splice at a line end would pass).
        let said = text(&o).lines().any(|l| {
            l.starts_with("warning: Observation.000.ndjson: The file changed on the server")
                && !l.contains("resuming where it stopped")
        });
        assert!(said, "the comparison refused the resume: {}", text(&o));
    }
    let all = storage.objects("resumed");
    let objects = only_data(&in_partition(&all, &partition(&all)));
    if remade {
        // Each object is one version whole: the old one, or (a file the killed run had begun) the new one.
        assert_eq!(objects.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
        for (name, bytes) in &objects {
            let old = &expected[name];
            let new = reversed_lines(old);
            assert!(bytes == old || *bytes == new, "{name} is one version whole, not two spliced");
        }
        let observation = &objects["Observation/part-000.ndjson"];
        assert_eq!(*observation, reversed_lines(&expected["Observation/part-000.ndjson"]), "the file made again");
    } else {
        assert_eq!(objects, expected, "byte for byte what an uninterrupted export brought");
    }
    assert_eq!(sim.stats().kickoffs, 2, "resume polls the saved status URL; no new kickoff");
}

/// A file's lines in reverse order (what the simulator's `files_change_at_request` makes of it).
fn reversed_lines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).rev() {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

// The four cases, each on one storage service (each run is about 30 s): the same file or one made again, with
// validators (`If-Range`) or without (the end of the last part compared).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_killed_mid_upload_then_resumed_continues_after_the_parts_sent() {
    killed_mid_upload_then_resumed(Storage::moto(), false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_killed_mid_upload_of_a_file_made_again_by_a_server_without_validators_gets_the_new_file_whole() {
    killed_mid_upload_then_resumed(Storage::moto(), true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_killed_mid_upload_of_a_file_the_server_then_made_again_gets_the_new_file_whole() {
    killed_mid_upload_then_resumed(Storage::azurite(), true, true).await;
}

/// A server without validators: the end of the last part sent is compared, and the same file continues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_killed_mid_upload_then_resumed_continues_after_the_parts_sent() {
    killed_mid_upload_then_resumed(Storage::gcs(), false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_export_leaves_no_unfinished_upload_in_s3() {
    let storage = Storage::moto();
    let sim = sim_of(600).await;
    // Observation only, so it starts at once whatever else the machine is doing. 200 kB/s of gzip on the wire (about 1.6 MB/s of NDJSON): the 19 MB file's first part is up after about 5 s,
    // and the rest takes about 7 s more.
    sim.set_faults(Faults { file_bytes_per_second: Some(200_000), ..Faults::default() });
    let haul = Haul::new();
    let address = format!("{}/cancelled", storage.root);
    let mut running = Background::start(
        haul.command(&storage, &[export_args(&sim.base_url(), &address), vec!["--type", "Observation"]].concat()),
    );
    running.wait_for_a_part_of_observation(&haul, 1);
    assert!(storage.unfinished_uploads("cancelled") >= 1);
    let o = haul.run(&storage, &["cancel", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    running.child.wait().unwrap();
    let db = haul.database();
    let unfinished =
        db.job_files(1).unwrap().into_iter().filter(|f| f.state != haul_store::FileState::Verified).count();
    assert!(unfinished > 0, "the cancel came before the export's end");
    assert_eq!(storage.unfinished_uploads("cancelled"), 0, "the storage was told to drop the parts");
    assert!(db.job_files(1).unwrap().iter().all(|f| db.file_upload(1, f.seq).unwrap().is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_region_and_endpoint_come_from_an_aws_profile_file() {
    let storage = Storage::moto();
    let sim = sim_of(20).await;
    let haul = Haul::new();
    let aws = tempfile::tempdir().unwrap();
    let endpoint = storage.env.iter().find(|(k, _)| *k == "AWS_ENDPOINT_URL").unwrap().1.clone();
    std::fs::write(aws.path().join("credentials"), "[lake]\naws_access_key_id = test\naws_secret_access_key = test\n")
        .unwrap();
    std::fs::write(
        aws.path().join("config"),
        format!("[profile lake]\nregion = us-east-1\nendpoint_url = {endpoint}\n"),
    )
    .unwrap();
    let run = |profile: &str| {
        let mut c = haul.command(
            &storage,
            &[export_args(&sim.base_url(), "s3://haul-test/profile"), vec!["--type", "Patient"]].concat(),
        );
        for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL"] {
            c.env_remove(k);
        }
        c.env("AWS_SHARED_CREDENTIALS_FILE", aws.path().join("credentials"))
            .env("AWS_CONFIG_FILE", aws.path().join("config"))
            .env("AWS_PROFILE", profile)
            .output()
            .unwrap()
    };
    let o = run("nope");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("“nope” (AWS_PROFILE) is in neither"), "{}", text(&o));
    let o = run("lake");
    assert!(o.status.success(), "{}", text(&o));
    let objects = storage.objects("profile");
    assert!(objects.keys().any(|k| k.ends_with("/Patient/part-000.ndjson")), "{:?}", objects.keys());
}
