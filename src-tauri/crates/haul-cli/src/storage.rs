//! `haul storage`: the storage sign-ins of the app's Storage page, from a terminal (a server VM has no
//! window). The secret comes from a file private to its owner or from an environment variable, never from the
//! command line (which other users see), and goes to the OS keychain only; the same rules as the app apply
//! (export-jobs' `storage_sign_in`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use export_jobs::storage_sign_in::{self, StorageSignInInput};
use haul_store::{Database, Keychain, StorageKind, StorageSignIn};
use zeroize::Zeroizing;

use crate::open_db;

#[derive(Args)]
pub struct StorageArgs {
    #[command(subcommand)]
    command: StorageCommand,
}

#[derive(Subcommand)]
enum StorageCommand {
    /// The saved sign-ins: address, kind, key id, region, endpoint (never a secret).
    List {
        /// One JSON object per line, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Save a sign-in for a bucket or container (and what is under it); exports and Delta tables there use
    /// it instead of the environment's credentials. Checked with the storage first (it lists the address).
    /// Replaces a sign-in saved for the same address.
    Add(AddArgs),
    /// Check access: list the address with what an export there would use (a saved sign-in that covers it,
    /// else the environment's credentials).
    Test { address: String },
    /// Remove the sign-in saved for an address, and its secret from the keychain.
    Remove { address: String },
}

#[derive(Args)]
struct AddArgs {
    /// The bucket or container, perhaps with a prefix: s3://bucket, az://container, gs://bucket.
    address: String,
    /// S3: the access key id.
    #[arg(long, value_name = "ID")]
    access_key_id: Option<String>,
    /// Azure: the storage account's name.
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// S3: the region (us-east-1 when not given).
    #[arg(long)]
    region: Option<String>,
    /// An S3-compatible server's or Azure's endpoint (https://…; http:// only on this computer).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// A file only you can read (chmod 600) holding the secret: the S3 secret access key, the Azure account
    /// key or SAS token, or the Google service account's JSON key.
    #[arg(long, value_name = "FILE", required_unless_present = "secret_env", conflicts_with = "secret_env")]
    secret_file: Option<PathBuf>,
    /// An environment variable holding the secret (read once, now).
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
    /// Save without asking the storage first (it cannot be reached from here yet).
    #[arg(long)]
    no_test: bool,
}

fn kind_of(address: &str) -> StorageKind {
    match object_destination::scheme_family(address) {
        Some("az") => StorageKind::Azure,
        Some("gs") => StorageKind::Gcs,
        // Not a storage address at all: the check says so in its own words.
        _ => StorageKind::S3,
    }
}

fn secret(args: &AddArgs) -> Result<Zeroizing<String>, String> {
    if let Some(path) = &args.secret_file {
        return haul_store::read_secret_text(path).map_err(|e| e.to_string());
    }
    let variable = args.secret_env.as_deref().unwrap_or_default();
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => Ok(Zeroizing::new(value)),
        Ok(_) => Err(format!("--secret-env names {variable}, but that environment variable is empty.")),
        Err(_) => Err(format!(
            "--secret-env names {variable}, but that environment variable is not set here (or is not text). Set it without typing the secret on a command line, for example `read -rs {variable} && export {variable}`."
        )),
    }
}

fn input(args: &AddArgs) -> Result<StorageSignInInput, String> {
    let kind = kind_of(&args.address);
    let key_id = match (kind, &args.access_key_id, &args.account) {
        (StorageKind::S3, id, None) => id.clone().unwrap_or_default(),
        (StorageKind::Azure, None, account) => account.clone().unwrap_or_default(),
        (StorageKind::Gcs, None, None) => String::new(),
        (StorageKind::S3, _, Some(_)) => {
            return Err("--account is for az:// addresses; S3 takes --access-key-id.".into());
        }
        (StorageKind::Azure, Some(_), _) => {
            return Err(
                "--access-key-id is for s3:// addresses; Azure takes --account (the storage account's name).".into()
            );
        }
        (StorageKind::Gcs, _, _) => {
            return Err(
                "A gs:// sign-in is the service account's JSON key alone (--secret-file); it names its account.".into(),
            );
        }
    };
    let secret = secret(args)?;
    Ok(StorageSignInInput {
        address: args.address.clone(),
        kind,
        key_id,
        region: args.region.clone(),
        endpoint: args.endpoint.clone(),
        secret: secret.to_string(),
    })
}

/// One line per sign-in, for people.
fn describe(s: &StorageSignIn) -> String {
    let mut parts = vec![match s.kind {
        StorageKind::S3 => format!("S3, access key {}", s.key_id),
        StorageKind::Azure => format!("Azure, account {}", s.key_id),
        StorageKind::Gcs => format!("Google Cloud Storage, {}", s.key_id),
    }];
    if let Some(region) = &s.region {
        parts.push(format!("region {region}"));
    }
    if let Some(endpoint) = &s.endpoint {
        parts.push(format!("endpoint {endpoint}"));
    }
    parts.push("secret in the keychain".into());
    format!("{}  ({})", s.address, parts.join(", "))
}

/// The sign-in saved for exactly `address` (a trailing `/` aside).
fn saved_for(db: &Database, address: &str) -> Result<StorageSignIn, String> {
    let wanted = address.trim().trim_end_matches('/');
    let saved = db.storage_sign_ins().map_err(|e| e.to_string())?;
    if let Some(s) = saved.iter().find(|s| s.address == wanted) {
        return Ok(s.clone());
    }
    let addresses: Vec<&str> = saved.iter().map(|s| s.address.as_str()).collect();
    Err(if addresses.is_empty() {
        format!("No storage sign-in is saved, so there is none for {wanted}.")
    } else {
        format!("No storage sign-in is saved for {wanted}. Saved: {}.", addresses.join(", "))
    })
}

pub async fn run(args: StorageArgs) -> Result<u8, String> {
    let db = open_db()?;
    match args.command {
        StorageCommand::List { json } => {
            let saved = db.storage_sign_ins().map_err(|e| e.to_string())?;
            if saved.is_empty() && !json {
                println!(
                    "No storage sign-ins saved. Exports to s3://, az:// and gs:// use the environment's credentials; `haul storage add` saves one."
                );
            }
            for s in &saved {
                if json {
                    println!("{}", serde_json::to_string(s).map_err(|e| e.to_string())?);
                } else {
                    println!("{}", describe(s));
                }
            }
        }
        StorageCommand::Add(args) => {
            let input = input(&args)?;
            if !args.no_test {
                storage_sign_in::test(&input).await.map_err(|e| {
                    format!("{e}\nNothing was saved. (`--no-test` saves it without asking the storage.)")
                })?;
            }
            let saved = storage_sign_in::save(&db, &input).map_err(|e| e.to_string())?;
            println!("Saved: {}. Exports and Delta tables under {} use it.", describe(&saved), saved.address);
        }
        StorageCommand::Test { address } => {
            let using = match storage_sign_in::covering(&db, &address).map_err(|e| e.to_string())? {
                Some(s) => format!("the sign-in saved for {}", s.address),
                None => "the environment's credentials (no saved sign-in covers it)".to_string(),
            };
            storage_sign_in::check_access(&db, &address).await.map_err(|e| format!("{e}\n(Haul used {using}.)"))?;
            println!("Haul can list {} with {using}.", address.trim());
        }
        StorageCommand::Remove { address } => {
            let saved = saved_for(&db, &address)?;
            db.remove_storage_sign_in(&Keychain, saved.id).map_err(|e| e.to_string())?;
            println!("Removed the sign-in for {} (its secret is gone from the keychain).", saved.address);
        }
    }
    Ok(crate::export::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(address: &str, access_key_id: Option<&str>, account: Option<&str>) -> AddArgs {
        AddArgs {
            address: address.into(),
            access_key_id: access_key_id.map(str::to_string),
            account: account.map(str::to_string),
            region: None,
            endpoint: None,
            secret_file: None,
            secret_env: Some("HAUL_TEST_STORAGE_SECRET_UNSET".into()),
            no_test: false,
        }
    }

    #[test]
    fn each_storage_takes_its_own_key_flag_and_the_secret_only_from_a_file_or_variable() {
        let refusal = |a: AddArgs| input(&a).err().unwrap_or_default();
        assert!(refusal(add("s3://b", None, Some("acct"))).contains("--access-key-id"));
        assert!(refusal(add("az://c", Some("AKIA"), None)).contains("--account"));
        assert!(refusal(add("gs://b", Some("x"), None)).contains("JSON key"));
        let unset = refusal(add("s3://b", Some("AKIA"), None));
        assert!(unset.contains("HAUL_TEST_STORAGE_SECRET_UNSET") && unset.contains("not set"), "{unset}");
    }
}
