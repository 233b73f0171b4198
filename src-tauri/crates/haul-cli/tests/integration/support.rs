//! What several of these tests share.

use std::path::Path;
use std::process::Command;

/// `haul ARGS` with its data folder at `data` and short waits: (succeeded, everything it printed).
pub fn haul(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_haul"))
        .args(args)
        .env("HAUL_DATA_DIR", data)
        .env("HAUL_TEST_FAST_PACING", "1")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
