//! What the benchmarks share: the `haul` binary beside them, a child process killed on drop, and a child's
//! own peak RSS and CPU time from wait4.

use std::path::PathBuf;
use std::process::Child;

pub struct Killed(pub Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn haul_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let haul = dir.join("haul");
    assert!(haul.exists(), "build it first: cargo build --release -p haul-cli --bin haul");
    haul
}

/// Waits for `child` and returns (success, its own peak RSS in KiB, its CPU seconds), from wait4.
pub fn wait_with_usage(child: &Child) -> (bool, i64, f64) {
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 only writes the two out-parameters we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        usage.ru_maxrss,
        secs(usage.ru_utime) + secs(usage.ru_stime),
    )
}
