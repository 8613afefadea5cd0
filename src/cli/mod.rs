//! The command line: `ipvsd check-config`, `ipvsd run` (and `run --dry-run`).
//!
//! Each subcommand is a thin shell: load the config, call the library, print, pick the
//! exit code. Exit codes are part of the interface (README, "Exit codes").

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, LoadError};
use crate::controller;
use crate::ipvs::save;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the config file has problems (each one is printed).
pub const EXIT_INVALID: u8 = 1;
/// Exit status: bad command line (printed by clap).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the config file could not be read.
pub const EXIT_UNREADABLE: u8 = 3;
/// Exit status: the daemon failed at run time.
pub const EXIT_RUNTIME: u8 = 4;

#[derive(Debug, Parser)]
#[command(
    name = "ipvsd",
    version,
    about = "Health-checking, highly available IPVS director"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config file and report every problem with file:line:column.
    CheckConfig {
        /// The config file.
        #[arg(default_value = config::DEFAULT_PATH)]
        file: PathBuf,
    },
    /// Run the director.
    Run {
        /// The config file.
        #[arg(short, long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        /// Print the IPVS table the config describes, in `ipvsadm -S -n` format, and exit
        /// without touching anything.
        #[arg(long)]
        dry_run: bool,
        /// Log filter overriding the config's `log_level` (e.g. `debug`).
        #[arg(long)]
        log_level: Option<String>,
    },
}

/// Runs a parsed command line and returns the process exit status.
pub fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Run {
            config,
            dry_run: true,
            ..
        } => dry_run(&config),
        Command::Run {
            config, log_level, ..
        } => match crate::daemon::run(&config, log_level.as_deref()) {
            Ok(()) => EXIT_OK,
            Err(crate::daemon::RunError::Config(e)) => report_load_error(&e),
            Err(e) => {
                eprintln!("ipvsd: {}", error_chain(&e));
                EXIT_RUNTIME
            }
        },
    }
}

/// `outer: inner: innermost`, for errors printed before logging is set up.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Prints every problem of a failed load on stderr and picks the exit status.
pub fn report_load_error(e: &LoadError) -> u8 {
    let mut err = std::io::stderr().lock();
    for p in e.problems() {
        let _ = writeln!(err, "{p}");
    }
    match e {
        LoadError::Invalid { diags, .. } => {
            let n = diags.len();
            let _ = writeln!(err, "{n} problem{} found", if n == 1 { "" } else { "s" });
            EXIT_INVALID
        }
        LoadError::TooLarge { .. } | LoadError::NotUtf8 { .. } => EXIT_INVALID,
        LoadError::Io { .. } => EXIT_UNREADABLE,
    }
}

fn check_config(file: &std::path::Path) -> u8 {
    match config::load_file(file) {
        Ok(cfg) => {
            let s = cfg.summary();
            println!(
                "{}: ok: {} virtual server{}, {} real server{}, {} check{}, {} VRRP instance{}",
                file.display(),
                s.virtual_servers,
                plural(s.virtual_servers),
                s.real_servers,
                plural(s.real_servers),
                s.checks,
                plural(s.checks),
                s.vrrp_instances,
                plural(s.vrrp_instances),
            );
            EXIT_OK
        }
        Err(e) => report_load_error(&e),
    }
}

fn dry_run(file: &std::path::Path) -> u8 {
    match config::load_file(file) {
        Ok(cfg) => {
            print!("{}", save::save(&controller::configured_table(&cfg)));
            EXIT_OK
        }
        Err(e) => report_load_error(&e),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
