use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = lucid::cli::Cli::parse();
    lucid::cli::init_tracing(&cli);
    match lucid::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", lucid::cli::error_line(&e));
            ExitCode::FAILURE
        }
    }
}
