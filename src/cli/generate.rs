//! `ipvsd generate man DIR` and `ipvsd generate completions SHELL [DIR]` (a hidden command,
//! for packaging): the man pages and shell completions come from the binary itself, so
//! building a package needs no other tool and they always match the command line.
//!
//! - ipvsd(8): the commands' synopses and a list of them (from clap), the description,
//!   exit status, signals, files; one page per command, ipvsd-run(8) and so on
//!   (clap_mangen), each pointing back to ipvsd(8) and ipvsd.yaml(5).
//! - ipvsd.yaml(5): docs/config.md (compiled in) through the markdown converter.
//! - Completions for bash, zsh, fish (and elvish, PowerShell) from clap_complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Subcommand};

use super::markdown;
use super::{Cli, EXIT_OK, EXIT_RUNTIME};

#[derive(Debug, Subcommand)]
pub enum Generate {
    /// Write the man pages into DIR: ipvsd.8, ipvsd-COMMAND.8 for each command, ipvsd.yaml.5.
    Man {
        /// The directory (created if missing).
        dir: PathBuf,
    },
    /// Print the completion script for SHELL, or write it into DIR (as ipvsd.bash, _ipvsd,
    /// ipvsd.fish, ...).
    Completions {
        shell: clap_complete::Shell,
        /// The directory (created if missing); standard output without it.
        dir: Option<PathBuf>,
    },
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The config reference, rendered as ipvsd.yaml(5).
const CONFIG_MD: &str = include_str!("../../docs/config.md");

/// ipvsd(8) before its COMMANDS section.
const DESCRIPTION_MD: &str = "\
## Description

**ipvsd** is a health-checking, highly available load-balancer director for the Linux
IP Virtual Server (IPVS): the checker and VRRP halves of keepalived, rebuilt. It probes
every real server (tcp, http, https, dns or a program), drains or removes the ones that
fail, puts a sorry server in when a service falls below its quorum, moves virtual IP
addresses between two directors with VRRP, and applies all of it to the kernel by
*reconciling* the IPVS table over generic netlink: it reads what the kernel holds, changes
only what differs, touches only the services its config owns and never flushes, so
restarts and reloads drop no connection.

One YAML file configures it, `/etc/ipvsd/ipvsd.yaml` by default, documented in
**ipvsd.yaml**(5). `ipvsd check-config` reports every problem in it with
file:line:column.

The daemon is `ipvsd run`, normally started by systemd (the unit `ipvsd.service`, as the
user *ipvsd* with only the capabilities CAP_NET_ADMIN and CAP_NET_RAW). It tells systemd
it is ready once the IPVS table has converged, and re-reads its config on SIGHUP or
`ipvsd reload`: a file with problems is rejected and the running config stays. The other
commands check and preview a config, apply its table once, ask the running daemon through
its admin API (`status`, `reload`, `drain`, `undrain`), read the kernel's table (`list`,
`export`), or prepare a real server for direct routing (`realserver`).
";

/// ipvsd(8) after its OPTIONS section.
const AFTER_MD: &str = "\
## Exit status

| Code | Meaning |
| --- | --- |
| 0 | success (`check-config`: the file is valid) |
| 1 | the config file has problems (each is printed on stderr, then `N problems found`); `reload`: the daemon rejected the file (its problems are printed) |
| 2 | bad command line |
| 3 | the config file cannot be read |
| 4 | a run-time failure: the daemon could not start; `apply`, `list`, `export` could not read or converge the IPVS table (e.g. no IPVS in the kernel); `status`, `reload`, `drain` could not reach the daemon's admin API |
| 5 | `drain`, `undrain`: the daemon's config has no such virtual server or real server |

## Signals

- **SIGHUP**: re-read the config file (as `ipvsd reload` does); a file with problems is
  logged and the running config stays.
- **SIGTERM**, **SIGINT**: stop. VRRP masters send an advertisement with priority 0 (the
  peer takes over at once) and release their addresses; the IPVS rules stay in place
  unless `remove_rules_on_exit: true`.

## Files

- `/etc/ipvsd/ipvsd.yaml`: the config file (**ipvsd.yaml**(5)).
- `/usr/lib/systemd/system/ipvsd.service`: the systemd unit.
- `/run/ipvsd/realserver.state`: what `ipvsd realserver setup` changed, for teardown.
- `/usr/share/doc/ipvsd/`: the configuration reference, the admin API and the metrics,
  Prometheus alert rules and a Grafana dashboard.
";

/// Runs `ipvsd generate ...`.
pub fn run(what: Generate) -> u8 {
    let r = match what {
        Generate::Man { dir } => write_man_pages(&dir),
        Generate::Completions { shell, dir: None } => {
            clap_complete::generate(
                shell,
                &mut completion_command(),
                "ipvsd",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Generate::Completions {
            shell,
            dir: Some(dir),
        } => std::fs::create_dir_all(&dir)
            .and_then(|()| {
                clap_complete::generate_to(shell, &mut completion_command(), "ipvsd", &dir)
            })
            .map(|p| println!("{}", p.display())),
    };
    match r {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("ipvsd: generate: {e}");
            EXIT_RUNTIME
        }
    }
}

fn write_man_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in man_pages() {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path)?;
        f.write_all(text.as_bytes())?;
        f.flush()?;
        println!("{}", path.display());
    }
    Ok(())
}

/// The command line as clap sees it, built (so subcommands have their full names), without
/// the implicit `help` command.
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The command line without its hidden commands, which clap_complete would offer.
fn completion_command() -> clap::Command {
    let full = Cli::command();
    let mut cmd = clap::Command::new("ipvsd")
        .version(VERSION)
        .subcommand_required(true)
        .subcommands(visible(&full).cloned());
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd
}

fn visible(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

/// The page name of a (built) subcommand: `ipvsd-run`, `ipvsd-realserver-setup`.
fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

/// Every man page: file name and roff text.
pub fn man_pages() -> Vec<(String, String)> {
    let cmd = command();
    let mut pages = vec![
        ("ipvsd.8".to_string(), main_page(&cmd)),
        ("ipvsd.yaml.5".to_string(), config_page()),
    ];
    fn add(cmd: &clap::Command, pages: &mut Vec<(String, String)>) {
        for sub in visible(cmd) {
            pages.push((format!("{}.8", page_name(sub)), command_page(sub)));
            add(sub, pages);
        }
    }
    add(&cmd, &mut pages);
    pages
}

/// Every command's page name, nested ones included, in order.
fn command_pages(cmd: &clap::Command) -> Vec<String> {
    let mut names = Vec::new();
    for sub in visible(cmd) {
        names.push(page_name(sub));
        names.extend(command_pages(sub));
    }
    names
}

fn th(title: &str, section: &str, manual: &str) -> String {
    format!(
        ".TH {} {section} \"\" \"ipvsd {VERSION}\" \"{manual}\"\n",
        markdown::escape(title)
    )
}

/// `.BR name (section),` lines for a SEE ALSO section.
fn see_also(refs: &[(&str, &str)]) -> String {
    let mut s = String::from(".SH \"SEE ALSO\"\n");
    for (k, (name, section)) in refs.iter().enumerate() {
        let sep = if k + 1 < refs.len() { "," } else { "" };
        s.push_str(&format!(
            ".BR {} ({section}){sep}\n",
            markdown::escape(name)
        ));
    }
    s
}

/// The roff crate's string definitions, which clap_mangen's text uses (`\\*(Aq`).
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// A clap_mangen section, without the preamble (the page has it once) and, with
/// `header: false`, without its `.SH` line.
fn mangen(header: bool, render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = render(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut out = String::new();
    let mut seen_header = false;
    for l in text.lines() {
        if PREAMBLE.lines().any(|p| p == l) {
            continue;
        }
        if !header && !seen_header && l.starts_with(".SH") {
            seen_header = true;
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// One synopsis line of a (built) command: `ipvsd run [-c|--config FILE] [--dry-run] ...`,
/// its subcommands as `{setup|teardown}`, its arguments as `[FILE]`, `VIRTUAL_SERVER`.
fn synopsis(cmd: &clap::Command) -> String {
    let b = |t: &str| format!("\\fB{}\\fR", markdown::escape(t));
    let i = |t: &str| format!("\\fI{}\\fR", markdown::escape(t));
    let mut parts = vec![b(cmd.get_bin_name().unwrap_or_else(|| cmd.get_name()))];
    let subs: Vec<String> = visible(cmd).map(|s| b(s.get_name())).collect();
    if !subs.is_empty() {
        parts.push(format!("{{{}}}", subs.join("|")));
    }
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let id = a.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let value = a
            .get_value_names()
            .map(|v| v.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| id.to_uppercase());
        let many = matches!(a.get_action(), clap::ArgAction::Append);
        let mut p = if a.is_positional() {
            i(&value)
        } else {
            let mut names = Vec::new();
            if let Some(c) = a.get_short() {
                names.push(b(&format!("-{c}")));
            }
            if let Some(l) = a.get_long() {
                names.push(b(&format!("--{l}")));
            }
            let mut p = names.join("|");
            if a.get_action().takes_values() {
                // An unbreakable space: the option stays with its value.
                p.push_str("\\ ");
                p.push_str(&i(&value));
            }
            p
        };
        if many {
            p.push_str("...");
        }
        parts.push(if a.is_required_set() {
            p
        } else {
            format!("[{p}]")
        });
    }
    parts.join(" ")
}

/// The synopsis lines of every leaf command (`ipvsd realserver setup ...`), one a line.
fn synopses(cmd: &clap::Command, out: &mut String) {
    for sub in visible(cmd) {
        if visible(sub).next().is_some() {
            synopses(sub, out);
        } else {
            out.push_str(&synopsis(sub));
            out.push_str("\n.br\n");
        }
    }
}

/// ipvsd(8).
fn main_page(cmd: &clap::Command) -> String {
    let mut s = String::from("'\\\" t\n");
    s.push_str(PREAMBLE);
    s.push_str(&th("IPVSD", "8", "System Administration"));
    s.push_str(".SH NAME\n");
    s.push_str("ipvsd \\- health\\-checking, highly available IPVS load\\-balancer director\n");
    // Synopses are set ragged-right.
    s.push_str(".SH SYNOPSIS\n.na\n.nh\n");
    synopses(cmd, &mut s);
    s.push_str(
        "\\fBipvsd\\fR [\\fB\\-h\\fR|\\fB\\-\\-help\\fR|\\fB\\-V\\fR|\\fB\\-\\-version\\fR]\n.ad\n.hy \\n[HY]\n",
    );
    s.push_str(&markdown::to_roff(DESCRIPTION_MD));
    s.push_str(".SH COMMANDS\n");
    s.push_str("Each command has its own page, with its options.\n");
    fn list(cmd: &clap::Command, s: &mut String) {
        for sub in visible(cmd) {
            s.push_str(&format!(
                ".TP\n.BR {} (8)\n",
                markdown::escape(&page_name(sub))
            ));
            if let Some(about) = sub.get_about() {
                s.push_str(&markdown::inline_to_roff(&about.to_string()));
                s.push('\n');
            }
            list(sub, s);
        }
    }
    list(cmd, &mut s);
    let man = clap_mangen::Man::new(cmd.clone());
    s.push_str(&mangen(true, |w| man.render_options_section(w)));
    s.push_str(&markdown::to_roff(AFTER_MD));
    let pages = command_pages(cmd);
    let mut refs: Vec<(&str, &str)> = vec![("ipvsd.yaml", "5")];
    refs.extend(pages.iter().map(|p| (p.as_str(), "8")));
    refs.extend([
        ("ipvsadm", "8"),
        ("keepalived", "8"),
        ("systemd.service", "5"),
    ]);
    s.push_str(&see_also(&refs));
    s
}

/// ipvsd-COMMAND(8): clap_mangen's name, description, options and subcommands sections
/// under our title and synopsis, and a SEE ALSO section.
fn command_page(sub: &clap::Command) -> String {
    let name = page_name(sub);
    let man = clap_mangen::Man::new(sub.clone()).section("8");
    let mut s = String::from(PREAMBLE);
    s.push_str(&th(&name.to_uppercase(), "8", "System Administration"));
    s.push_str(&mangen(true, |w| man.render_name_section(w)));
    s.push_str(".SH SYNOPSIS\n.na\n.nh\n");
    s.push_str(&synopsis(sub));
    s.push('\n');
    for leaf in visible(sub) {
        s.push_str(".br\n");
        s.push_str(&synopsis(leaf));
        s.push('\n');
    }
    s.push_str(".ad\n.hy \\n[HY]\n");
    s.push_str(&mangen(true, |w| man.render_description_section(w)));
    s.push_str(&mangen(true, |w| man.render_options_section(w)));
    if visible(sub).next().is_some() {
        s.push_str(".SH COMMANDS\n");
        s.push_str(&mangen(false, |w| man.render_subcommands_section(w)));
    }
    let mut refs = vec![("ipvsd", "8"), ("ipvsd.yaml", "5")];
    // A nested command points to its parent too.
    let parent = name.rsplit_once('-').map(|(p, _)| p.to_string());
    if let Some(p) = parent.as_deref().filter(|p| *p != "ipvsd" && pages_has(p)) {
        refs.insert(1, (p, "8"));
    }
    s.push_str(&see_also(&refs));
    s
}

/// Whether `name` is a command's page (`ipvsd-realserver`, not `ipvsd-check`).
fn pages_has(name: &str) -> bool {
    command_pages(&command()).iter().any(|p| p == name)
}

/// The config reference's title line dropped, and its "Contents:" paragraph (in-page
/// links) left out; the rest is the DESCRIPTION and the sections after it.
fn config_body(md: &str) -> (String, String) {
    let mut lines = md.lines().peekable();
    if lines.peek().is_some_and(|l| l.starts_with("# ")) {
        lines.next();
    }
    let rest: Vec<&str> = lines.collect();
    let split = rest
        .iter()
        .position(|l| l.starts_with("## "))
        .unwrap_or(rest.len());
    let intro = rest[..split].join("\n");
    let intro: Vec<&str> = intro
        .split("\n\n")
        .filter(|p| !p.trim_start().starts_with("Contents:"))
        .collect();
    (intro.join("\n\n"), rest[split..].join("\n"))
}

/// ipvsd.yaml(5).
fn config_page() -> String {
    let (intro, sections) = config_body(CONFIG_MD);
    let mut s = String::from("'\\\" t\n");
    s.push_str(&th("IPVSD.YAML", "5", "File Formats"));
    s.push_str(".SH NAME\n");
    s.push_str("ipvsd.yaml \\- configuration file of ipvsd, the IPVS director\n");
    s.push_str(".SH SYNOPSIS\n.I /etc/ipvsd/ipvsd.yaml\n");
    s.push_str(".SH DESCRIPTION\n");
    s.push_str(&markdown::to_roff(&intro));
    s.push_str(&markdown::to_roff(&sections));
    s.push_str(&markdown::to_roff(
        "## Files\n\n\
         - `/etc/ipvsd/ipvsd.yaml`: the config `ipvsd run` and the systemd unit read. The \
         package installs one that manages nothing; it is a configuration file, kept across \
         upgrades once changed.\n",
    ));
    s.push_str(&see_also(&[
        ("ipvsd", "8"),
        ("ipvsd-check-config", "8"),
        ("ipvsd-run", "8"),
        ("ipvsadm", "8"),
        ("keepalived.conf", "5"),
    ]));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(name: &str) -> String {
        man_pages()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no page {name}"))
            .1
    }

    #[test]
    fn a_page_for_ipvsd_the_config_and_every_visible_command() {
        let names: Vec<String> = man_pages().into_iter().map(|(n, _)| n).collect();
        for n in [
            "ipvsd.8",
            "ipvsd.yaml.5",
            "ipvsd-check-config.8",
            "ipvsd-run.8",
            "ipvsd-apply.8",
            "ipvsd-status.8",
            "ipvsd-reload.8",
            "ipvsd-drain.8",
            "ipvsd-undrain.8",
            "ipvsd-realserver.8",
            "ipvsd-realserver-setup.8",
            "ipvsd-realserver-teardown.8",
            "ipvsd-list.8",
            "ipvsd-import.8",
            "ipvsd-import-keepalived.8",
            "ipvsd-import-ipvsadm.8",
            "ipvsd-export.8",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }
        // Not the hidden generate command, nor clap's help.
        assert_eq!(names.len(), 17, "{names:?}");
    }

    #[test]
    fn the_main_page_lists_every_command_with_its_synopsis_and_the_usual_sections() {
        let p = page("ipvsd.8");
        assert!(
            p.starts_with(&format!(
                "'\\\" t\n{PREAMBLE}.TH IPVSD 8 \"\" \"ipvsd {VERSION}\" "
            )),
            "{p}"
        );
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH COMMANDS",
            ".SH OPTIONS",
            ".SH \"EXIT STATUS\"",
            ".SH SIGNALS",
            ".SH FILES",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(p.contains(&format!("{section}\n")), "{section} missing");
        }
        for cmd in ["check\\-config", "run", "realserver\\-setup", "export"] {
            assert!(p.contains(&format!(".BR ipvsd\\-{cmd} (8)")), "{cmd}");
        }
        // Synopses of the leaf commands, the nested ones with their full name, values
        // named as in --help.
        assert!(
            p.contains("\\fBipvsd realserver setup\\fR \\fB\\-\\-vip\\fR\\ \\fIADDR\\fR... [\\fB\\-\\-dev\\fR\\ \\fIDEV\\fR]"),
            "{p}"
        );
        assert!(
            p.contains("\\fBipvsd check\\-config\\fR [\\fIFILE\\fR]\n.br\n"),
            "{p}"
        );
        assert!(
            p.contains("\\fBipvsd drain\\fR \\fIVIRTUAL_SERVER\\fR \\fIREAL_SERVER\\fR [\\fB\\-c\\fR|\\fB\\-\\-config\\fR\\ \\fIFILE\\fR]"),
            "{p}"
        );
        assert!(!p.contains("generate"), "the hidden command shows: {p}");
        assert!(p.contains(".TS\n"), "exit status table");
    }

    #[test]
    fn a_command_page_has_its_options_and_points_back() {
        let p = page("ipvsd-run.8");
        assert!(p.contains(".TH IPVSD\\-RUN 8 \"\" \"ipvsd "), "{p}");
        assert!(p.contains(".SH OPTIONS\n"), "{p}");
        assert!(!p.contains(".SH VERSION"), "{p}");
        assert!(p.contains("dry\\-run"), "{p}");
        assert!(
            p.ends_with(".SH \"SEE ALSO\"\n.BR ipvsd (8),\n.BR ipvsd.yaml (5)\n"),
            "{p}"
        );
        let p = page("ipvsd-realserver-setup.8");
        assert!(
            p.ends_with(".BR ipvsd (8),\n.BR ipvsd\\-realserver (8),\n.BR ipvsd.yaml (5)\n"),
            "{p}"
        );
    }

    #[test]
    fn the_config_page_is_the_reference_without_its_title_and_contents_line() {
        let (intro, rest) = config_body(
            "# Title\n\nIntro one.\n\nContents: [a](#a) ·\n[b](#b)\n\nIntro two.\n\n## A\n\ntext\n",
        );
        assert_eq!(intro, "\nIntro one.\n\nIntro two.\n");
        assert_eq!(rest, "## A\n\ntext");
        let p = page("ipvsd.yaml.5");
        assert!(p.starts_with("'\\\" t\n.TH IPVSD.YAML 5 "), "{p}");
        assert!(!p.contains("Contents:"));
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH \"CROSS\\-FIELD RULES\"",
            ".SH FILES",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(p.contains(&format!("{section}\n")), "{section} missing");
        }
        assert!(p.contains(".SH global\n"));
        assert!(p.contains(".SS \"type: tcp\"\n"));
    }

    #[test]
    fn completions_cover_the_commands_but_not_the_hidden_one() {
        use clap_complete::Shell;
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut completion_command(), "ipvsd", &mut buf);
            let script = String::from_utf8(buf).unwrap();
            for sub in visible(&Cli::command()) {
                assert!(
                    script.contains(sub.get_name()),
                    "{shell}: {}",
                    sub.get_name()
                );
            }
            assert!(script.contains("dry-run"), "{shell}");
            assert!(script.contains("teardown"), "{shell}");
            assert!(
                !script.contains("generate"),
                "{shell}: the hidden command is offered"
            );
        }
        // The hidden command is there to run, just not shown.
        let full = Cli::command();
        assert!(
            full.find_subcommand("generate")
                .is_some_and(|g| g.is_hide_set())
        );
        assert_eq!(
            visible(&full).count(),
            completion_command().get_subcommands().count()
        );
    }
}
