//! End-to-end tests of the real Haul app: Xvfb, tauri-driver, WebKitWebDriver and the debug binary,
//! driven over WebDriver. Run with `cargo test --features e2e --test e2e -- --test-threads=1`
//! (the README's test command does). Screenshots land in `target/e2e/<test>/`.

mod compare;
mod exports;
mod files;
mod harness;
mod keys;
mod looks;
mod profiles;
mod scheduled;
mod second_day;
mod servers;
mod startup;
mod storage;
mod tables;
