//! `haul compare A B`: two exports of one dataset side by side (export-compare), as a table or JSON.

use clap::Args;
use export_compare::Comparison;
use export_jobs::comparison::{Compared, compare_exports};

use crate::export::EXIT_OK;
use crate::open_db;

#[derive(Args)]
pub struct CompareArgs {
    /// The two exports (numbers from `haul history`), in either order: the earlier is the baseline.
    a: i64,
    b: i64,
    /// The comparison as one JSON object, for scripts.
    #[arg(long)]
    json: bool,
}

fn table(c: &Comparison) -> String {
    let mut out = format!(
        "{:<24} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9}\n",
        "type", "before", "after", "added", "changed", "deleted", "gone"
    );
    for t in &c.types {
        out += &format!(
            "{:<24} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9}\n",
            t.resource_type, t.before, t.after, t.added, t.changed, t.deleted, t.removed
        );
    }
    out
}

pub fn run(args: CompareArgs) -> Result<u8, String> {
    let db = open_db()?;
    let Compared { earlier: first, later: second, comparison: c } =
        compare_exports(&db, args.a, args.b).map_err(|e| e.to_string())?;
    let incremental = c.incremental;
    if args.json {
        println!("{}", serde_json::to_string(&c).map_err(|e| e.to_string())?);
        return Ok(EXIT_OK);
    }
    println!("Export {} ({}) → export {} ({})", first.id, first.created_at, second.id, second.created_at);
    if incremental {
        println!("Export {} asked for changes only: a resource it does not hold is unchanged, not gone.", second.id);
    }
    print!("{}", table(&c));
    if let Some(note) = deletions_not_held(&c) {
        println!("{note}");
    }
    println!("Patients who joined: {}{}", c.patients_joined_count, listed(&c.patients_joined, c.patients_joined_count));
    if !incremental {
        println!("Patients who left: {}{}", c.patients_left_count, listed(&c.patients_left, c.patients_left_count));
    }
    if c.bad_lines > 0 {
        println!("{} lines were not resources of their file's type and were left out.", c.bad_lines);
    }
    Ok(EXIT_OK)
}

/// The deletions the later export listed of resources the earlier one never held, when there are some.
fn deletions_not_held(c: &Comparison) -> Option<String> {
    let by_type: Vec<String> = c
        .types
        .iter()
        .filter(|t| t.deleted_not_held > 0)
        .map(|t| format!("{} {}", t.deleted_not_held, t.resource_type))
        .collect();
    (!by_type.is_empty()).then(|| {
        format!(
            "The later export also listed deletions of resources the earlier one did not hold ({}): created since, deleted before it, or of patients it did not cover, they change nothing here.",
            by_type.join(", ")
        )
    })
}

/// ` (p1, p2, …)`: the first ids, and how many more.
fn listed(ids: &[String], count: u64) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
    let more = count.saturating_sub(shown.len() as u64);
    if more > 0 { format!(" ({}, and {more} more)", shown.join(", ")) } else { format!(" ({})", shown.join(", ")) }
}
