//! The command line: `ipvsd check-config`, `ipvsd run` (and `run --dry-run`), `ipvsd
//! apply`, `ipvsd status` and `ipvsd drain|undrain` (clients of the running daemon's
//! admin API), `ipvsd list` and `ipvsd export` (the kernel's table), `ipvsd import
//! keepalived|ipvsadm` (other configs into ipvsd YAML); the hidden `ipvsd generate
//! man|completions` writes the man pages and shell completions for packages.
//!
//! Each subcommand is a thin shell: load the config, call the library, print, pick the
//! exit code. Exit codes are part of the interface (README, "Exit codes").

mod admin;
mod generate;
mod markdown;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use std::collections::BTreeMap;

use crate::config::{self, LoadError};
use crate::controller;
use crate::ipvs::backend::{Backend, to_table};
use crate::ipvs::listing::{self, Columns};
use crate::ipvs::model::ServiceKey;
use crate::ipvs::netlink::NetlinkBackend;
use crate::ipvs::save;
use crate::ipvs::task::converge;

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
/// Exit status: `import --strict` found something it could not convert.
pub const EXIT_NOT_CONVERTED: u8 = 6;

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
        #[arg(short, long, value_name = "FILE", default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        /// Print the IPVS table the config describes, in `ipvsadm -S -n` format, and exit
        /// without touching anything.
        #[arg(long)]
        dry_run: bool,
        /// Log filter overriding the config's `log_level` (e.g. `debug`).
        #[arg(long, value_name = "FILTER")]
        log_level: Option<String>,
        /// Where IPVS changes go: `kernel` (generic netlink), or `memory` (a table in
        /// the process, for trying configs and benchmarks on hosts without IPVS).
        #[arg(long, value_enum, default_value_t = IpvsBackend::Kernel)]
        ipvs_backend: IpvsBackend,
    },
    /// Apply the config's IPVS table once and exit: reconcile the kernel with it (only
    /// the services the config owns, every real server at its configured weight; no
    /// checks), print what was written.
    Apply {
        /// The config file.
        #[arg(short, long, value_name = "FILE", default_value = config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Ask the running daemon (admin API) for its status: each virtual server's real
    /// servers with the kernel's weight and connections, health, drain and the last
    /// failure; then the VRRP instances.
    Status {
        #[command(flatten)]
        daemon: DaemonArgs,
        /// Print the status document as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the running daemon re-read its config (as SIGHUP does), and print what changed
    /// or every problem of a rejected file.
    Reload {
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Drain a real server in the running daemon: weight 0 (established connections
    /// finish) until undrained, whatever its health, across reloads and restarts.
    Drain {
        /// The virtual server: its `name`, or `TCP 192.0.2.1:80` / `FWM 3` as ipvsd status shows it.
        virtual_server: String,
        /// The real server: `address:port` as in the config.
        real_server: String,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Undo `ipvsd drain`: the real server gets its weight back if healthy.
    Undrain {
        /// The virtual server: its `name`, or `TCP 192.0.2.1:80` / `FWM 3` as ipvsd status shows it.
        virtual_server: String,
        /// The real server: `address:port` as in the config.
        real_server: String,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Prepare (or undo) a real server behind an LVS-DR or LVS-TUN director: the VIPs on
    /// the loopback as host addresses, arp_ignore=1 and arp_announce=2.
    Realserver {
        #[command(subcommand)]
        action: RealserverAction,
    },
    /// Print the live IPVS table like `ipvsadm -Ln`, marking the services ipvsd owns
    /// (read from the kernel; no daemon needed).
    List {
        /// The config that says which services ipvsd owns.
        #[arg(short, long, value_name = "FILE", default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        /// Connections, packets and bytes (`ipvsadm --stats`).
        #[arg(long, conflicts_with = "rate")]
        stats: bool,
        /// Per-second rates (`ipvsadm --rate`).
        #[arg(long)]
        rate: bool,
        /// Exact numbers, no K/M/G (`ipvsadm --exact`).
        #[arg(long)]
        exact: bool,
    },
    /// Convert a keepalived.conf or ipvsadm rules into an ipvsd config; list what could
    /// not be converted (FILE:LINE: keyword: why) on stderr and in the config's header.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// Print the live IPVS table in `ipvsadm -S -n` format (for `ipvsadm-restore`).
    Export {
        /// Only the services this config owns.
        #[arg(long)]
        owned: bool,
        /// The config, for --owned.
        #[arg(short, long, value_name = "FILE", default_value = config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Write the man pages or shell completions (for packaging; not listed in --help).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        what: generate::Generate,
    },
}

#[derive(Debug, Subcommand)]
pub enum RealserverAction {
    /// Put the VIPs on DEV (/32, /128) and set the ARP sysctls; records what it changed.
    Setup(RealserverArgs),
    /// Remove the VIPs; once none is left, put the recorded sysctl values back.
    Teardown(RealserverArgs),
}

/// How `status`, `reload`, `drain` and `undrain` reach the running daemon.
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// The daemon's config: its `control_socket` (reload, drain, undrain) or its
    /// `admin_listen` (status).
    #[arg(short, long, value_name = "FILE", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// The admin API's TCP address (read-only: status).
    #[arg(long, value_name = "ADDR", conflicts_with = "socket")]
    admin: Option<SocketAddr>,
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

impl DaemonArgs {
    /// Where to ask: a change goes to the control socket, a status to the TCP address,
    /// unless an option names one.
    fn target(&self, change: bool) -> admin::Target {
        match (&self.socket, self.admin) {
            (Some(p), _) => admin::Target::Socket(p.clone()),
            (None, Some(a)) => admin::Target::Tcp(a),
            (None, None) => admin::target_of_config(&self.config, change),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct RealserverArgs {
    /// A virtual IP address (repeat for several).
    #[arg(long = "vip", value_name = "ADDR", required = true)]
    vips: Vec<std::net::IpAddr>,
    /// The device that carries the VIPs.
    #[arg(long, default_value = "lo")]
    dev: String,
    /// Where setup records what it changed, for teardown.
    #[arg(long, value_name = "FILE", default_value = crate::realserver::DEFAULT_STATE)]
    state: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ImportFrom {
    /// keepalived.conf and the files it includes: virtual servers (and groups), real
    /// servers, checkers, sorry servers, VRRP instances and sync groups.
    Keepalived {
        /// The keepalived configuration file.
        file: PathBuf,
        #[command(flatten)]
        out: ImportOutput,
    },
    /// `ipvsadm -S -n` output: virtual and real servers (ipvsadm rules have no health
    /// checks, so neither has the config).
    Ipvsadm {
        /// The saved rules (`ipvsadm -S -n > FILE`); `-` reads stdin.
        file: PathBuf,
        #[command(flatten)]
        out: ImportOutput,
    },
}

#[derive(Debug, clap::Args)]
pub struct ImportOutput {
    /// Write the config to this file instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Fail (exit 6, nothing written) if anything could not be converted.
    #[arg(long)]
    strict: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IpvsBackend {
    Kernel,
    Memory,
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
        Command::Status { daemon, json } => admin::status(&daemon.target(false), json),
        Command::Realserver { action } => {
            let r = match &action {
                RealserverAction::Setup(a) => {
                    crate::realserver::run_setup(&a.vips, &a.dev, &a.state)
                }
                RealserverAction::Teardown(a) => {
                    crate::realserver::run_teardown(&a.vips, &a.dev, &a.state)
                }
            };
            match r {
                Ok(out) => {
                    print!("{out}");
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("ipvsd: realserver: {e}");
                    EXIT_RUNTIME
                }
            }
        }
        Command::Reload { daemon } => admin::reload(&daemon.target(true)),
        Command::Drain {
            virtual_server,
            real_server,
            daemon,
        } => admin::drain(&daemon.target(true), &virtual_server, &real_server, true),
        Command::Undrain {
            virtual_server,
            real_server,
            daemon,
        } => admin::drain(&daemon.target(true), &virtual_server, &real_server, false),
        Command::List {
            config,
            stats,
            rate,
            exact,
        } => {
            let columns = match (stats, rate) {
                (true, _) => Columns::Stats,
                (_, true) => Columns::Rate,
                _ => Columns::Plain,
            };
            list(&config, columns, exact)
        }
        Command::Export { owned, config } => export(owned.then_some(config.as_path())),
        Command::Import { from } => import(from),
        Command::Apply { config } => apply(&config),
        Command::Generate { what } => generate::run(what),
        Command::Run {
            config,
            log_level,
            ipvs_backend,
            ..
        } => match crate::daemon::run(&config, log_level.as_deref(), ipvs_backend) {
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
        LoadError::TooLarge { .. }
        | LoadError::NotUtf8 { .. }
        | LoadError::WorldWritable { .. } => EXIT_INVALID,
        LoadError::Io { .. } | LoadError::NotRegular { .. } => EXIT_UNREADABLE,
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

fn kernel() -> Result<NetlinkBackend, u8> {
    NetlinkBackend::connect().map_err(|e| {
        eprintln!("ipvsd: cannot read the IPVS table: {}", error_chain(&e));
        EXIT_RUNTIME
    })
}

/// The services a config owns, by key, with their names; empty (and a note on stderr) if
/// the config cannot be loaded.
fn owned_names(path: &std::path::Path) -> BTreeMap<ServiceKey, String> {
    match config::load_file(path) {
        Ok(cfg) => cfg
            .virtual_servers
            .iter()
            .map(|v| (v.key, v.name.clone()))
            .collect(),
        Err(e) => {
            eprintln!(
                "ipvsd: note: {}: owned services are not marked",
                error_chain(&e).lines().next().unwrap_or_default()
            );
            BTreeMap::new()
        }
    }
}

fn list(config_path: &std::path::Path, columns: Columns, exact: bool) -> u8 {
    let mut k = match kernel() {
        Ok(k) => k,
        Err(code) => return code,
    };
    let read = k.info().and_then(|info| Ok((info, k.dump()?)));
    match read {
        Ok((info, table)) => {
            let owned = owned_names(config_path);
            print!("{}", listing::render(&info, &table, columns, exact, &owned));
            EXIT_OK
        }
        Err(e) => {
            eprintln!("ipvsd: cannot read the IPVS table: {}", error_chain(&e));
            EXIT_RUNTIME
        }
    }
}

fn apply(path: &std::path::Path) -> u8 {
    let cfg = match config::load_file(path) {
        Ok(cfg) => cfg,
        Err(e) => return report_load_error(&e),
    };
    let mut k = match kernel() {
        Ok(k) => k,
        Err(code) => return code,
    };
    let owned = cfg.virtual_servers.iter().map(|v| v.key).collect();
    let start = std::time::Instant::now();
    let report = converge(&mut k, &controller::configured_table(&cfg), &owned);
    let elapsed = start.elapsed();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for op in &report.applied {
        *kinds.entry(op.kind()).or_default() += 1;
    }
    let detail: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "applied {} write{}{} in {:.3}s",
        report.applied.len(),
        plural(report.applied.len()),
        if detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", detail.join(", "))
        },
        elapsed.as_secs_f64()
    );
    match report.error {
        None => EXIT_OK,
        Some(e) => {
            eprintln!("ipvsd: not converged: {e}");
            EXIT_RUNTIME
        }
    }
}

fn export(owned_by: Option<&std::path::Path>) -> u8 {
    let mut k = match kernel() {
        Ok(k) => k,
        Err(code) => return code,
    };
    match k.dump() {
        Ok(observed) => {
            let mut table = to_table(&observed);
            if let Some(path) = owned_by {
                let owned = match config::load_file(path) {
                    Ok(cfg) => cfg,
                    Err(e) => return report_load_error(&e),
                };
                table
                    .services
                    .retain(|k, _| owned.virtual_servers.iter().any(|v| v.key == *k));
            }
            print!("{}", save::save(&table));
            EXIT_OK
        }
        Err(e) => {
            eprintln!("ipvsd: cannot read the IPVS table: {}", error_chain(&e));
            EXIT_RUNTIME
        }
    }
}

fn import(from: ImportFrom) -> u8 {
    use crate::import::{self, ImportError};
    let (result, out) = match from {
        ImportFrom::Keepalived { file, out } => {
            (import::keepalived::convert(&file, &import::FsFiles), out)
        }
        ImportFrom::Ipvsadm { file, out } => {
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map(|_| s)
                    .map_err(|source| ImportError::Unreadable {
                        path: file.clone(),
                        source,
                    })
            } else {
                import::Files::read(&import::FsFiles, &file).map_err(|source| {
                    ImportError::Unreadable {
                        path: file.clone(),
                        source,
                    }
                })
            };
            let name = file.display().to_string();
            (text.and_then(|t| import::ipvsadm::convert(&name, &t)), out)
        }
    };
    let conv = match result {
        Ok(c) => c,
        Err(e @ ImportError::Unreadable { .. }) => {
            eprintln!("ipvsd: {}", error_chain(&e));
            return EXIT_UNREADABLE;
        }
        Err(e @ ImportError::Syntax { .. }) => {
            eprintln!("{e}");
            return EXIT_INVALID;
        }
    };
    let mut err = std::io::stderr().lock();
    for o in &conv.omissions {
        let _ = writeln!(err, "{o}");
    }
    for n in &conv.notes {
        let _ = writeln!(err, "note: {n}");
    }
    let n = conv.omissions.len();
    if n > 0 {
        let _ = writeln!(
            err,
            "{n} item{} not converted (also listed in the config's header)",
            plural(n)
        );
    }
    let problems = import::validate(&conv.yaml);
    if !problems.is_empty() {
        let _ = writeln!(
            err,
            "ipvsd: the converted config does not pass check-config (a bug in the importer; please report it):"
        );
        for p in problems {
            let _ = writeln!(err, "  {p}");
        }
        return EXIT_INVALID;
    }
    if out.strict && n > 0 {
        let _ = writeln!(err, "ipvsd: --strict: nothing written");
        return EXIT_NOT_CONVERTED;
    }
    match &out.output {
        Some(path) => match std::fs::write(path, &conv.yaml) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                let _ = writeln!(err, "ipvsd: cannot write {}: {e}", path.display());
                EXIT_RUNTIME
            }
        },
        None => {
            print!("{}", conv.yaml);
            EXIT_OK
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
