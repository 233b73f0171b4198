//! Storage servers on loopback for the tests that write to object storage: moto's S3 server (the most complete
//! S3 emulator on PyPI: multipart uploads and conditional writes included), Azurite (Microsoft's own Azure
//! Storage emulator, from npm), and for gs:// addresses GCS's XML API in front of moto (`tests/storage/
//! gcs_front.py`: no GCS emulator on the registries takes the XML API object_store speaks), each started per
//! test on a port it picks itself; and `haul` run against them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The Python of `.venv` (moto, boto3, azure-storage-blob), as `make test` installs it.
pub fn python() -> PathBuf {
    let python =
        std::env::var_os("HAUL_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run `make test` once, which installs moto and azure-storage-blob",
        python.display()
    );
    python
}

/// Starts `command`, which listens on a port of its own choosing (port 0) and prints it as
/// `http://127.0.0.1:PORT`: no port is picked here and lost to another test's server before it binds.
fn start_listening(mut command: Command, what: &str) -> (Child, u16) {
    use std::io::{BufRead, BufReader};
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<u16>();
    // Both streams are read to their end, so the server never blocks on a full pipe.
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split("http://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|p| p.parse::<u16>().ok())
                    .filter(|p| *p != 0)
                {
                    let _ = tx.send(port);
                }
            }
        });
    }
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(port) => (child, port),
        Err(_) => {
            let _ = child.kill();
            panic!("{what} did not say which port it listens on within 60 s");
        }
    }
}

/// A storage server on loopback, stopped when dropped, with the environment that points Haul (and the
/// Python readers) at it.
pub struct Storage {
    pub child: Child,
    /// GCS's front, before moto (`child`).
    pub front: Option<Child>,
    pub kind: &'static str,
    /// The server that keeps the objects (moto's port for gs://).
    pub port: u16,
    /// `s3://haul-test`, `gs://haul-test` or `az://haul`.
    pub root: &'static str,
    pub env: Vec<(&'static str, String)>,
    dir: tempfile::TempDir,
}

impl Drop for Storage {
    fn drop(&mut self) {
        for child in self.front.iter_mut().chain([&mut self.child]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Lists and fetches every object under a prefix with the cloud's own SDK, into a folder.
const DUMP: &str = r#"
import os, sys
kind, port, prefix, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def save(name, data):
    path = os.path.join(out, name[len(prefix) + 1:])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(data)
if kind in ("s3", "gs"):
    import boto3
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="test",
                      aws_secret_access_key="test", region_name="us-east-1")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="haul-test", Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            save(o["Key"], s3.get_object(Bucket="haul-test", Key=o["Key"])["Body"].read())
else:
    from azure.storage.blob import BlobServiceClient
    c = BlobServiceClient.from_connection_string(os.environ["CS"]).get_container_client("haul")
    for b in c.list_blobs(name_starts_with=prefix + "/"):
        save(b.name, c.download_blob(b.name).readall())
"#;

impl Storage {
    pub fn moto() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(python());
        command.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"]).current_dir(dir.path());
        let (child, port) = start_listening(command, "moto");
        let env = vec![
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ];
        let s = Self { child, front: None, kind: "s3", port, root: "s3://haul-test", env, dir };
        s.python(&format!(
            "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket='haul-test')"
        ));
        s
    }

    pub fn azurite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = std::env::var_os("HAUL_AZURITE")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("tests/storage/node_modules/.bin/azurite-blob"));
        assert!(bin.exists(), "{} is missing: run `make test` once, which installs Azurite", bin.display());
        let mut command = Command::new(bin);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence"])
            .args(["--skipApiVersionCheck", "--silent"])
            .current_dir(dir.path());
        let (child, port) = start_listening(command, "Azurite");
        let env = vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURITE_BLOB_STORAGE_URL", format!("http://127.0.0.1:{port}")),
        ];
        let s = Self { child, front: None, kind: "az", port, root: "az://haul", env, dir };
        s.python("from azure.storage.blob import BlobServiceClient as B; import os; B.from_connection_string(os.environ['CS']).create_container('haul')");
        s
    }

    /// GCS: its XML API in front of moto, signed in with a service account's key file from the environment
    /// (`GOOGLE_SERVICE_ACCOUNT`), as on a VM.
    pub fn gcs() -> Self {
        let mut s = Self::moto();
        let mut command = Command::new(python());
        command.arg(repo_root().join("tests/storage/gcs_front.py")).arg(s.port.to_string()).current_dir(s.dir.path());
        let (front, _) = start_listening(command, "the GCS front");
        s.front = Some(front);
        s.kind = "gs";
        s.root = "gs://haul-test";
        s.env = vec![("GOOGLE_SERVICE_ACCOUNT", s.service_account_path().display().to_string())];
        s
    }

    /// The GCS front's service account key file (its private key made by the front, fresh each test).
    pub fn service_account_path(&self) -> PathBuf {
        self.dir.path().join("service-account.json")
    }

    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{}/devstoreaccount1;",
            self.port
        )
    }

    pub fn python(&self, code: &str) {
        let o = Command::new(python()).args(["-c", code]).env("CS", self.connection_string()).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// S3's unfinished multipart uploads under `prefix`.
    pub fn unfinished_uploads(&self, prefix: &str) -> usize {
        let code = format!(
            "import boto3; s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:{}', aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1'); \
             print(len(s3.list_multipart_uploads(Bucket='haul-test', Prefix='{prefix}').get('Uploads', [])))",
            self.port
        );
        let o = Command::new(python()).args(["-c", &code]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
    }

    /// Every object under `prefix` (relative to the bucket or container), by name under it.
    pub fn objects(&self, prefix: &str) -> BTreeMap<String, Vec<u8>> {
        let out = tempfile::tempdir().unwrap();
        let o = Command::new(python())
            .args(["-c", DUMP, self.kind, &self.port.to_string(), prefix])
            .arg(out.path())
            .env("CS", self.connection_string())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        files_under(out.path())
    }
}

pub fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

pub struct Haul {
    pub data: tempfile::TempDir,
}

impl Haul {
    pub fn new() -> Self {
        Self { data: tempfile::tempdir().unwrap() }
    }

    pub fn command(&self, storage: &Storage, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_haul"));
        c.args(args).env("HAUL_DATA_DIR", self.data.path()).env("HAUL_TEST_FAST_PACING", "1").stdin(Stdio::null());
        c.envs(storage.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn run(&self, storage: &Storage, args: &[&str]) -> Output {
        self.command(storage, args).output().unwrap()
    }

    pub fn database(&self) -> haul_store::Database {
        haul_store::Database::open(&haul_store::DataDir::at(self.data.path()).database_path()).unwrap()
    }
}

/// Every file arrived: complete, or complete with problems the export names (bad lines set aside).
pub fn finished(o: &Output) -> bool {
    o.status.success() || text(o).contains("Export finished with problems")
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
