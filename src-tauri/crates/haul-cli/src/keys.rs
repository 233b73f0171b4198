//! `haul keys`: signing keys for SMART Backend Services. Private keys go to the OS keychain only.

use std::path::PathBuf;

use bulk_client::KeyAlgorithm;
use clap::{Args, Subcommand, ValueEnum};
use haul_store::{KeyInfo, Keychain};

use crate::open_db;

#[derive(Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Clone, Copy, ValueEnum)]
enum Alg {
    #[value(name = "ES384")]
    Es384,
    #[value(name = "RS384")]
    Rs384,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key pair; the private key goes straight into the keychain.
    Generate {
        #[arg(long, value_enum, default_value = "ES384", ignore_case = true)]
        alg: Alg,
        /// RSA key size (RS384 only): 2048 (default), 3072 or 4096 (some servers, e.g. CMS DPC, ask for 4096).
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["2048", "3072", "4096"]))]
        bits: Option<String>,
        #[arg(long)]
        label: String,
    },
    /// List keys (kid, algorithm, label, dates, servers using each).
    List,
    /// Print (or save) the public JWKS to register with a server.
    Jwks {
        // A kid is base64url: it may start with "-", which is a value here, not a flag.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print (or save) the public key as PEM, for servers that register a PEM public key (CMS DPC).
    Pem {
        // A kid is base64url: it may start with "-", which is a value here, not a flag.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Sign a file with the private key (RSA, SHA-256, base64), as CMS DPC asks when you upload the public key:
    /// what `openssl dgst -sha256 -sign … | openssl base64` would print, without the key leaving the keychain.
    SignFile {
        // A kid is base64url: it may start with "-", which is a value here, not a flag.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import a private key: PEM (PKCS#8, PKCS#1, SEC1) or JWK. The file is only read, never copied.
    Import {
        file: PathBuf,
        #[arg(long)]
        label: Option<String>,
    },
    /// Delete a key from the keychain and from Haul.
    Delete {
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

fn describe(key: &KeyInfo) -> String {
    format!("{} key “{}”\nkid: {}", key.alg.as_str(), key.label, key.kid)
}

pub fn run(args: KeysArgs) -> Result<(), String> {
    let db = open_db()?;
    let keychain = Keychain;
    match args.command {
        KeysCommand::Generate { alg, bits, label } => {
            let alg = match alg {
                Alg::Es384 => KeyAlgorithm::ES384,
                Alg::Rs384 => KeyAlgorithm::RS384,
            };
            let bits = bits.map(|b| b.parse::<u32>().expect("one of the listed sizes"));
            let key = db.generate_key_sized(&keychain, alg, bits, &label).map_err(|e| e.to_string())?;
            println!("Created {}", describe(&key));
            println!("The private key is in this computer's keychain. Register the public key with the server:");
            println!("  haul keys jwks {}      (or as PEM: haul keys pem {})", key.kid, key.kid);
        }
        KeysCommand::List => {
            let keys = db.list_keys().map_err(|e| e.to_string())?;
            if keys.is_empty() {
                println!("No keys yet. Create one with: haul keys generate --alg ES384 --label \"Payer production\"");
            }
            for k in keys {
                let used = if k.used_by.is_empty() { "no server".to_string() } else { k.used_by.join(", ") };
                let last = k.last_used_at.as_deref().unwrap_or("never");
                println!(
                    "{}  {}  {}  created {}  last used {}  used by {}",
                    k.kid,
                    k.alg.as_str(),
                    k.label,
                    k.created_at,
                    last,
                    used
                );
            }
        }
        KeysCommand::Jwks { kid, out } => {
            let jwks = db.key_jwks(&kid).map_err(|e| e.to_string())?;
            let text = serde_json::to_string_pretty(&jwks).map_err(|e| e.to_string())?;
            match out {
                Some(path) => {
                    std::fs::write(&path, format!("{text}\n"))
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    eprintln!("Saved the public JWKS of {kid} to {}", path.display());
                }
                None => println!("{text}"),
            }
        }
        KeysCommand::Pem { kid, out } => {
            let pem = db.key_public_pem(&kid).map_err(|e| e.to_string())?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &pem).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    eprintln!("Saved the public key of {kid} (PEM) to {}", path.display());
                }
                None => print!("{pem}"),
            }
        }
        KeysCommand::SignFile { kid, file, out } => {
            let signature = db.sign_proof_file(&keychain, &kid, &file).map_err(|e| e.to_string())?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &signature).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    eprintln!("Saved the signature of {} with {kid} to {}", file.display(), path.display());
                }
                None => print!("{signature}"),
            }
        }
        KeysCommand::Import { file, label } => {
            let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let label =
                label.unwrap_or_else(|| file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default());
            let key = db.import_key(&keychain, &bytes, &label).map_err(|e| e.to_string())?;
            println!("Imported {}", describe(&key));
            println!("The private key is now in this computer's keychain; {} itself was not changed.", file.display());
        }
        KeysCommand::Delete { kid } => {
            let lost = db.delete_key(&keychain, &kid).map_err(|e| e.to_string())?;
            println!("Deleted key {kid} from the keychain and from Haul.");
            if !lost.is_empty() {
                println!(
                    "These servers no longer have a key and cannot sign in until you choose one: {}",
                    lost.join(", ")
                );
            }
        }
    }
    Ok(())
}
