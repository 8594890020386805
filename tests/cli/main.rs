//! Integration tests: the real binary, real temp stores, real files and pipes.
#![allow(clippy::unwrap_used, unsafe_code)]

mod add;
mod batch;
mod catalog;
mod clamd;
mod crash;
mod docs;
mod generated;
mod harness;
mod help;
mod hostile;
mod integrity;
mod interrupt;
mod layers;
mod memory;
mod mms;
mod page;
mod policy;
mod progress;
mod reliability;
mod rm;
mod s3;
mod serve;
mod sniffing;
mod tools;
mod util;
