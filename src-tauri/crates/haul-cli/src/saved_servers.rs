//! The servers saved in the app, from the command line: `haul servers list`, and `haul export --server NAME`,
//! which takes the address, sign-in (its secret from the keychain), kind and network settings from there, so a
//! scheduled job repeats no URL and no sign-in flag.

use clap::{Args, Subcommand};
use haul_store::{AuthKind, Database, Server};

use crate::open_db;

#[derive(Args)]
pub struct ServersArgs {
    #[command(subcommand)]
    command: ServersCommand,
}

#[derive(Subcommand)]
enum ServersCommand {
    /// The servers saved in the app: name, address, sign-in, kind and network settings (never a secret).
    List {
        /// One JSON object per line, for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// The saved server named `name` (names are unique whatever their case); when there is none, the sentence
/// names the saved ones.
pub fn find_by_name(db: &Database, name: &str) -> Result<Server, String> {
    let servers = db.list_servers().map_err(|e| e.to_string())?;
    let wanted = name.trim().to_lowercase();
    if let Some(server) = servers.iter().find(|s| s.name.to_lowercase() == wanted) {
        return Ok(server.clone());
    }
    let names: Vec<String> = servers.iter().map(|s| format!("“{}”", s.name)).collect();
    Err(if names.is_empty() {
        format!(
            "No server is saved in Haul, so there is no “{}”. Add it in the app (Servers), or give --fhir-url.",
            name.trim()
        )
    } else {
        format!("No saved server is named “{}”. Saved servers: {}.", name.trim(), names.join(", "))
    })
}

/// One line per server, for people.
fn describe(server: &Server) -> String {
    let sign_in = match server.auth {
        AuthKind::Open => "no sign-in",
        AuthKind::SmartBackend => "SMART Backend Services",
        AuthKind::ClientSecret => "client ID and secret",
        AuthKind::BearerToken => "bearer token",
    };
    let mut parts = vec![sign_in.to_string()];
    if let Some(profile) = server.profile_id.as_deref().and_then(server_profiles::by_id) {
        parts.push(profile.name.clone());
    }
    if server.secret_saved {
        parts.push("secret in the keychain".into());
    }
    if server.ca_file.is_some() {
        parts.push("own CA file".into());
    }
    if server.proxy.is_some() {
        parts.push("own proxy".into());
    }
    if server.client_certificate.is_some() {
        parts.push("client certificate".into());
    }
    format!("{}  {}  ({})", server.name, server.base_url, parts.join(", "))
}

pub fn run(args: ServersArgs) -> Result<u8, String> {
    let db = open_db()?;
    let ServersCommand::List { json } = args.command;
    let servers = db.list_servers().map_err(|e| e.to_string())?;
    if servers.is_empty() && !json {
        println!("No servers saved yet. Add one in the app (Servers); `haul export --server NAME` then uses it.");
    }
    for server in &servers {
        if json {
            println!("{}", serde_json::to_string(server).map_err(|e| e.to_string())?);
        } else {
            println!("{}", describe(server));
        }
    }
    Ok(crate::export::EXIT_OK)
}
