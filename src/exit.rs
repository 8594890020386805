//! The exit codes, in one place; `--help`, docs/manual.md and the man pages list the same.

/// How a run ended, as the shell sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every input was stored, or was already in the store.
    Success = 0,
    /// The run could not go on: the store is unusable, the disk full, or permission denied on it.
    Fatal = 1,
    /// The command line was wrong.
    Usage = 2,
    /// Some inputs failed and the others were stored.
    Partial = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}
