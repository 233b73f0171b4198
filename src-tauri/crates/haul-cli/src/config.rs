//! `haul run NAME --config FILE`: exports declared in a file, for a computer without a desktop (README,
//! "Running Haul on a server"). Each export becomes the `haul export` command it stands for, so the flags'
//! rules and words apply to both, and the file holds no secret: sign-in comes from files private to their
//! owner or from environment variables, named in the file.
//!
//! ```toml
//! [servers.bcda]
//! fhir_url = "https://sandbox.bcda.cms.gov/api/v2"
//! client_id = "…"
//! client_secret_file = "/etc/haul/bcda.secret"   # chmod 600
//!
//! [exports.aco-monthly]
//! server = "bcda"
//! group = "aco-north"
//! types = ["Patient", "Coverage", "ExplanationOfBenefit"]
//! since = "auto"                                 # each run: what changed since the last
//! out = "s3://payer-lake/bcda"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use serde::Deserialize;

#[derive(Args)]
pub struct RunArgs {
    /// The export's name in the file (`[exports.NAME]`).
    name: String,
    /// The file that declares servers and exports (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    servers: BTreeMap<String, ServerEntry>,
    #[serde(default)]
    exports: BTreeMap<String, ExportEntry>,
}

/// A server and how to sign in to it: names of files and variables, never a secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerEntry {
    fhir_url: String,
    client_id: Option<String>,
    /// A key in this computer's keychain, by kid.
    key: Option<String>,
    key_file: Option<PathBuf>,
    client_secret_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    bearer_token_file: Option<PathBuf>,
    bearer_token_env: Option<String>,
    secret_style: Option<String>,
    token_url: Option<String>,
    scope: Option<String>,
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportEntry {
    server: String,
    group: Option<String>,
    #[serde(default)]
    patient_level: bool,
    #[serde(default)]
    types: Vec<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(default)]
    type_filters: Vec<String>,
    /// Object storage (each run in its own `export_date=` partition), or a folder (relative to the file's
    /// folder) that gets a new folder per run, named by its date and time.
    out: String,
    parallel: Option<u32>,
    #[serde(default)]
    no_delete: bool,
}

/// `haul export`'s flags alone, to parse what an entry stands for.
#[derive(Parser)]
#[command(name = "haul export")]
struct ExportCommand {
    #[command(flatten)]
    args: crate::export::ExportArgs,
}

pub async fn run(args: RunArgs) -> Result<u8, String> {
    let shown = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config).map_err(|e| format!("Haul could not read {shown}: {e}."))?;
    let now = time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let stamp = now
        .format(time::macros::format_description!("[year]-[month]-[day]_[hour][minute][second]"))
        .unwrap_or_default();
    let argv = export_argv(&text, &args.name, args.config.parent().unwrap_or(Path::new(".")), &stamp)
        .map_err(|e| format!("{shown}: {e}"))?;
    let command = ExportCommand::try_parse_from(&argv).map_err(|e| format!("{shown}, export “{}”: {e}", args.name))?;
    crate::export::export(command.args).await
}

/// The `haul export` command line an entry stands for. Paths in the file are relative to its folder; a run
/// into a folder goes into a new one inside it, named `stamp`.
fn export_argv(text: &str, name: &str, base: &Path, stamp: &str) -> Result<Vec<String>, String> {
    let config: ConfigFile = toml::from_str(text).map_err(|e| plain_toml_error(&e, text))?;
    let Some(export) = config.exports.get(name) else {
        let known: Vec<&str> = config.exports.keys().map(String::as_str).collect();
        return Err(format!("there is no export “{name}” (the file declares: {}).", list(&known)));
    };
    let Some(server) = config.servers.get(&export.server) else {
        return Err(format!("export “{name}” names the server “{}”, which the file does not declare.", export.server));
    };
    let path = |p: &PathBuf| base.join(p).display().to_string();
    let mut argv: Vec<String> = vec!["haul export".into(), "--fhir-url".into(), server.fhir_url.clone()];
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            argv.push(format!("--{name}"));
            argv.push(value);
        }
    };
    flag("client-id", server.client_id.clone());
    flag("key", server.key.clone());
    flag("key-file", server.key_file.as_ref().map(path));
    flag("client-secret-file", server.client_secret_file.as_ref().map(path));
    flag("client-secret-env", server.client_secret_env.clone());
    flag("bearer-token-file", server.bearer_token_file.as_ref().map(path));
    flag("bearer-token-env", server.bearer_token_env.clone());
    flag("secret-style", server.secret_style.clone());
    flag("token-url", server.token_url.clone());
    flag("scope", server.scope.clone());
    flag("ca-file", server.ca_file.as_ref().map(path));
    flag("group", export.group.clone());
    flag("type", (!export.types.is_empty()).then(|| export.types.join(",")));
    flag("since", export.since.clone());
    flag("until", export.until.clone());
    for filter in &export.type_filters {
        flag("type-filter", Some(filter.clone()));
    }
    flag("parallel", export.parallel.map(|p| p.to_string()));
    let out = if object_like(&export.out) { export.out.clone() } else { path(&PathBuf::from(&export.out).join(stamp)) };
    flag("out", Some(out));
    if export.patient_level {
        argv.push("--patient-level".into());
    }
    if export.no_delete {
        argv.push("--no-delete".into());
    }
    Ok(argv)
}

/// An address (`s3://…`) is passed as it is; `haul export` decides what it can write to.
fn object_like(text: &str) -> bool {
    text.contains("://")
}

fn list(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// toml's message, and for a secret written into the file, what to do instead.
fn plain_toml_error(e: &toml::de::Error, text: &str) -> String {
    let message = e.message();
    for secret in ["client_secret", "bearer_token", "password", "private_key"] {
        if message.contains(&format!("unknown field `{secret}`")) {
            return format!(
                "the file may not hold a secret (`{secret}`): put it in a file only you can read (`{secret}_file`, chmod 600) or an environment variable (`{secret}_env`), and name that here."
            )
            .replace("`password_file`", "a file")
            .replace("`private_key_file`", "`key_file`");
        }
    }
    let line = e
        .span()
        .map(|s| format!(" (line {})", text.get(..s.start).unwrap_or("").matches('\n').count() + 1))
        .unwrap_or_default();
    format!("{}{line}", message.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[servers.bcda]
fhir_url = "https://sandbox.bcda.test/api/v2"
client_id = "c-1"
client_secret_file = "secrets/bcda"

[exports.aco]
server = "bcda"
group = "aco-north"
types = ["Patient", "Coverage"]
since = "auto"
type_filters = ["Coverage?status=active"]
out = "s3://lake/bcda"

[exports.local]
server = "bcda"
patient_level = true
out = "exports/local"
no_delete = true
"#;

    #[test]
    fn an_entry_is_the_export_command_it_stands_for() {
        let argv = export_argv(FILE, "aco", Path::new("/etc/haul"), "S").unwrap();
        assert_eq!(
            argv.join(" "),
            "haul export --fhir-url https://sandbox.bcda.test/api/v2 --client-id c-1 --client-secret-file \
             /etc/haul/secrets/bcda --group aco-north --type Patient,Coverage --since auto --type-filter \
             Coverage?status=active --out s3://lake/bcda"
        );
        let argv = export_argv(FILE, "local", Path::new("/etc/haul"), "2026-12-01_060000").unwrap();
        assert!(argv.ends_with(&[
            "--out".into(),
            "/etc/haul/exports/local/2026-12-01_060000".into(),
            "--patient-level".into(),
            "--no-delete".into()
        ]));
    }

    #[test]
    fn mistakes_and_secrets_in_the_file_are_said_plainly() {
        let e = export_argv(FILE, "monthly", Path::new("/"), "S").unwrap_err();
        assert!(e.contains("no export “monthly”") && e.contains("aco, local"), "{e}");
        let e = export_argv(
            &FILE.replace("server = \"bcda\"\ngroup", "server = \"cms\"\ngroup"),
            "aco",
            Path::new("/"),
            "S",
        )
        .unwrap_err();
        assert!(e.contains("names the server “cms”"), "{e}");
        let e = export_argv(
            &FILE.replace("client_secret_file = \"secrets/bcda\"", "client_secret = \"hunter2\""),
            "aco",
            Path::new("/"),
            "S",
        )
        .unwrap_err();
        assert!(
            e.contains("may not hold a secret") && e.contains("client_secret_file") && !e.contains("hunter2"),
            "{e}"
        );
        let e = export_argv(&FILE.replace("types =", "typos ="), "aco", Path::new("/"), "S").unwrap_err();
        assert!(e.contains("typos") && e.contains("(line 10)"), "{e}");
    }
}
