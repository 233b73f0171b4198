//! `haul vacuum DIR|ADDRESS`: the data files of older versions removed from Delta tables, once the version that
//! removed them is older than each table's retention (a week unless the table sets
//! `delta.deletedFileRetentionDuration`), as Spark's or delta-rs's VACUUM does (see `delta_table::vacuum`).

use std::time::Duration;

use export_jobs::wording::{bytes, count};

#[derive(clap::Args)]
pub struct VacuumArgs {
    /// Where the tables are: the folder or storage address (s3://, gs://, az://) `haul convert --format delta`
    /// or `haul tables --format delta` wrote to; every table directly under it is vacuumed.
    #[arg(value_name = "DIR|ADDRESS")]
    target: String,
    /// Only list the files that would be removed.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: VacuumArgs) -> Result<u8, String> {
    // The address is checked before the database is opened: a wrong one is said even without a data folder.
    export_jobs::delta::check_existing_target(&args.target).map_err(|e| e.to_string())?;
    let dest = export_jobs::delta::open_target(&crate::open_db()?, &args.target).map_err(|e| e.to_string())?;
    let done = delta_table::vacuum_tables(&dest, args.dry_run).await.map_err(|e| e.to_string())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&done).expect("reports serialize"));
        return Ok(0);
    }
    let verb = if args.dry_run { "would remove" } else { "removed" };
    for v in &done {
        let kept = match v.retention_seconds {
            0 => "the current version's files (the table keeps replaced files for no time)".to_string(),
            s => format!("what versions of the last {} need", export_jobs::wording::duration(Duration::from_secs(s))),
        };
        let (files, size) = (count(v.files.len() as u64, "file"), bytes(v.bytes));
        println!("{}: {verb} {files} ({size}); kept: {kept}", v.table);
        for f in &v.files {
            println!("  {f}");
        }
    }
    let (files, total) = done.iter().fold((0, 0), |(n, b), v| (n + v.files.len() as u64, b + v.bytes));
    let tables = count(done.len() as u64, "table");
    match args.dry_run {
        true => {
            println!("Would remove {} ({}) from {tables}; nothing was removed.", count(files, "file"), bytes(total))
        }
        false => println!("Removed {} ({}) from {tables}.", count(files, "file"), bytes(total)),
    }
    Ok(0)
}
