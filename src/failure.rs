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
}

impl Failure {
    /// True when the run cannot go on after this failure.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Failure::Store(_))
    }
}
