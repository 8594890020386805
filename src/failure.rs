//! Why an input was not stored, in the kinds a caller branches on.

/// The ways storing one input can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// This input could not be read: it is counted as failed, and the run
    /// goes on with the next one.
    #[error("{0:#}")]
    Input(anyhow::Error),
    /// The store could not take it (disk full, no permission, damaged
    /// store): nothing else can be stored either, so the run stops.
    #[error("{0:#}")]
    Store(anyhow::Error),
    /// The admission policy refused this input; nothing of it is stored.
    #[error("{0}")]
    Rejected(crate::policy::Rejection),
    /// The virus scanner could not give a verdict: the input fails (scans
    /// fail closed) and the run goes on.
    #[error("{0:#}")]
    Scan(anyhow::Error),
}

/// The kinds of the I/O errors in an error's chain, outermost first.
pub fn io_kinds(error: &anyhow::Error) -> impl Iterator<Item = std::io::ErrorKind> + '_ {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
}

impl Failure {
    /// True when the run cannot go on after this failure.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Failure::Store(_))
    }
}
