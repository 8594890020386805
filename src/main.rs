use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ingest::cli::Cli::parse();
    ingest::run(cli).into()
}
