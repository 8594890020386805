//! Progress bars: drawn on request, never into a pipe or a log by default.

use crate::util::*;

fn run_with_progress(mode: &str) -> String {
    let env = Env::new();
    env.write("big.bin", &noise(8 << 20, 11));
    let mut cmd = bare_cmd();
    cmd.current_dir(env.path())
        .arg("--store")
        .arg(env.store())
        .args(["--progress", mode, "big.bin"]);
    stderr_of(&ok(cmd))
}

#[test]
fn always_draws_a_bar_for_a_large_input_even_into_a_pipe() {
    let err = run_with_progress("always");
    assert!(err.contains("big.bin ["), "no bar drawn: {err:?}");
}

#[test]
fn auto_draws_nothing_when_stderr_is_not_a_terminal() {
    let err = run_with_progress("auto");
    assert_eq!(
        err,
        "ingest: 1 new (8.00 MiB), 0 duplicate (0 B saved), 0 unchanged (0 B), 0 rejected, 0 failed, 0 skipped\n"
    );
}
