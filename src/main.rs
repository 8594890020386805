use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = ingest::cli::parse();
    ingest::run(cli).into()
}
