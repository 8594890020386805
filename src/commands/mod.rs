//! The command line's front ends of the engine: each turns its arguments
//! into the engine's plain settings, opens the store (through
//! [`crate::store::Opener`]), runs, and says how the run ended as an exit
//! code. (The store tools are in `crate::tools`.)

pub mod add;
pub mod flags;
pub mod mms;
pub mod serve;
pub mod token;
