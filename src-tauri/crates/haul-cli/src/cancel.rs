//! `haul cancel`: stop one of Haul's exports (and tell the server), or, with `--blocking`, cancel on the
//! server the export it ran instead of one of Haul's (a busy server such as CMS BCDA named it).

use std::sync::{Arc, Mutex};

use bulk_client::HttpClient;
use clap::Args;
use export_jobs::ExportRunner;

use crate::export::EXIT_OK;
use crate::open_db;

#[derive(Args)]
pub struct CancelArgs {
    job: i64,
    /// Cancel, on the server, the export that kept this one from starting (the server's busy answer named
    /// it), instead of this one.
    #[arg(long)]
    blocking: bool,
}

pub async fn run(args: CancelArgs) -> Result<u8, String> {
    let runner = ExportRunner::new(Arc::new(Mutex::new(open_db()?)), HttpClient::new());
    if args.blocking {
        let url = runner.cancel_blocking(args.job).await.map_err(|e| e.to_string())?;
        eprintln!("The server was told to cancel its export at {url}. Start export {} again now.", args.job);
        return Ok(EXIT_OK);
    }
    match runner.cancel(args.job).await {
        Ok(true) => {
            eprintln!("Export {} cancelled; the server was told to stop.", args.job);
            Ok(EXIT_OK)
        }
        Ok(false) => Err(format!("Export {} had already finished; nothing to cancel.", args.job)),
        Err(e) => Err(e.to_string()),
    }
}
