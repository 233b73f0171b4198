//! `haul sim`: prints the FHIR base URL (and, with `--register-jwks`, the client id on the next line),
//! then serves until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bulk_sim::{AuthMode, DataSource, Faults, RunningSim, SimConfig};
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, ValueEnum)]
pub enum Auth {
    /// No authorization.
    Open,
    /// SMART Backend Services (private_key_jwt, RS384/ES384).
    Smart,
}

#[derive(Args)]
pub struct SimArgs {
    /// Generated patients (deterministic for a given --seed).
    #[arg(long, default_value_t = 100)]
    patients: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Serve this folder of NDJSON(.gz) files instead of generated data.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["patients", "seed"])]
    folder: Option<PathBuf>,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, value_enum, default_value = "open")]
    auth: Auth,
    /// Register a client by its public JWKS file; its client id is printed after the base URL.
    #[arg(long, value_name = "FILE", requires = "auth")]
    register_jwks: Option<PathBuf>,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, default_value_t = 300)]
    token_lifetime: u64,
    /// Resources per NDJSON file before a type is split.
    #[arg(long, default_value_t = 10_000)]
    resources_per_file: u64,
    /// Minimum seconds an export stays "in progress" (202).
    #[arg(long, default_value_t = 2.0)]
    prepare_seconds: f64,
    /// Refuse kickoffs without `Prefer: respond-async` or with a non-FHIR `Accept` (400).
    #[arg(long)]
    strict: bool,
    /// Faults as JSON, e.g. '{"status_transient_times":2,"drop_after_bytes":100000}'.
    /// The same JSON can be sent later with POST [origin]/_sim/faults.
    #[arg(long, value_name = "JSON")]
    faults: Option<String>,
}

pub async fn run(args: SimArgs) -> Result<(), String> {
    let data = match &args.folder {
        Some(dir) => DataSource::Folder(dir.clone()),
        None => DataSource::Generated { seed: args.seed, patients: args.patients },
    };
    let auth = match args.auth {
        Auth::Open => AuthMode::Open,
        Auth::Smart => AuthMode::Smart { token_lifetime: Duration::from_secs(args.token_lifetime.max(1)) },
    };
    let faults: Faults = match &args.faults {
        Some(json) => serde_json::from_str(json).map_err(|e| format!("--faults is not valid fault JSON: {e}"))?,
        None => Faults::default(),
    };
    if args.register_jwks.is_some() && matches!(args.auth, Auth::Open) {
        return Err("--register-jwks needs --auth smart".into());
    }
    let config = SimConfig {
        data,
        auth,
        resources_per_file: args.resources_per_file,
        prepare_time: Duration::from_secs_f64(args.prepare_seconds.max(0.0)),
        strict_headers: args.strict,
        faults,
        ..SimConfig::default()
    };
    let addr: SocketAddr = ([127, 0, 0, 1], args.port).into();
    let sim = RunningSim::start_on(addr, config)
        .await
        .map_err(|e| format!("could not start the simulator on {addr}: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", sim.base_url()).map_err(|e| e.to_string())?;
    if let Some(file) = &args.register_jwks {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let jwks = serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
        let client_id =
            sim.register_client(jwks, None).map_err(|e| format!("cannot register {}: {e}", file.display()))?;
        writeln!(out, "{client_id}").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    let counts = sim.resource_counts();
    let total: u64 = counts.values().sum();
    eprintln!("Serving {total} resources of {} types. Try:", counts.len());
    eprintln!("  curl -i -H 'Prefer: respond-async' '{}/$export?_type=Patient'", sim.base_url());
    if matches!(args.auth, Auth::Smart) {
        eprintln!(
            "Token endpoint: {} (register keys with POST {}/_sim/register)",
            sim.token_url(),
            sim.base_url().trim_end_matches("/fhir")
        );
    }
    eprintln!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    eprintln!("Stopped.");
    Ok(())
}
