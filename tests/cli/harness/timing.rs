//! Children timed by GNU time (`/usr/bin/time`): their peak RSS as the
//! kernel counts it.

use std::process::{Child, ChildStdin, Command, Stdio};

use crate::util::*;

/// Runs `ingest ARGS` under GNU time; returns the command to spawn and the
/// file time writes the peak RSS (KiB) into.
pub fn under_time(env: &Env, args: &[&str]) -> (Command, std::path::PathBuf) {
    let report = env.path().join("peak-rss");
    (timed(&env.cmd(args), &report), report)
}

/// `inner` (program, arguments, environment and folder) run under GNU
/// time, which writes its peak RSS in KiB into `report`.
pub fn timed(inner: &Command, report: &std::path::Path) -> Command {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(report)
        .arg(inner.get_program())
        .args(inner.get_args());
    if let Some(dir) = inner.get_current_dir() {
        cmd.current_dir(dir);
    }
    for (key, value) in inner.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

/// Spawns `cmd` with its stdin on a pipe and its stdout discarded.
pub fn spawn_fed(cmd: &mut Command) -> (Child, ChildStdin) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// Waits for `child` and returns its exit code and the peak RSS in KiB.
pub fn wait_with_peak_rss(mut child: Child, report: &std::path::Path) -> (Option<i32>, i64) {
    let status = child.wait().unwrap();
    let text =
        std::fs::read_to_string(report).expect("GNU time must be installed (.ci/run installs it)");
    let peak = text.lines().last().unwrap().trim().parse().unwrap();
    (status.code(), peak)
}

/// A running process's peak resident set so far, in KiB (the kernel's
/// VmHWM), for a server that is measured while it runs.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
