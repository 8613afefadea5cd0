//! The `ipvsd` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match ipvsd::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version land here too, with exit code 0.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                ipvsd::cli::EXIT_USAGE
            } else {
                ipvsd::cli::EXIT_OK
            });
        }
    };
    ExitCode::from(ipvsd::cli::dispatch(cli))
}
