//! The task that runs one VRRP instance: the I/O shell around `fsm::Instance`.
//!
//! It owns the instance's sockets and timers: receives adverts (validated by
//! `packet::validate`, drops counted by reason), hands them and the timers to the state
//! machine, and carries out its actions: send adverts, add or remove the virtual addresses
//! (rtnetlink, on a blocking thread), announce them (gratuitous ARP / unsolicited NA,
//! repeated as configured, refreshed if configured). Tracked interfaces are read again on
//! every link notification that names one of them (rtnetlink, `LinkWatch`), and every 30 s
//! in case one was missed; once a second if notifications cannot be had. Every state change
//! is logged and reported to the daemon. No protocol decision is taken here.
//!
//! A runtime fault never ends the task: an interface that is missing at start is retried,
//! a failed send or address change is logged (rate-limited) and the protocol goes on.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep, sleep_until};
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::fsm::{Action, Input, Instance, Params, Reason, State};
use super::netif::{LinkEvent, LinkWatch, Netif, NetifError};
use super::packet::{self, Advert, Auth, DropReason, Expect};
use super::socket::{Announcer, Registered, SocketConfig, SocketError, VrrpSocket};
use super::timer::PreciseTimer;
use super::track::tracked;
use crate::config::{VrrpInstance, VrrpVersion};
use crate::ipvs::model::Family;
use crate::metrics::{Shared, Vrrp, VrrpReason, VrrpTo};
use prometheus_client::metrics::counter::Counter;

/// A state change, for the daemon (notify, connection sync, status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEvent {
    pub instance: String,
    pub from: State,
    pub to: State,
    pub reason: Reason,
    pub priority: u8,
}

enum Control {
    /// Release (priority 0 if master, addresses removed) and end; acknowledged when done.
    Shutdown(oneshot::Sender<()>),
    /// Follow the sync group into this state.
    SyncTo(State),
    /// Which virtual servers have a healthy real server here, which scripts pass.
    Health(Arc<TrackHealth>),
}

/// What the daemon knows of the tracked virtual servers and scripts, by name: a virtual
/// server has a healthy real server here, a script passes. A name missing counts as
/// healthy (nothing to say about it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackHealth {
    pub services: BTreeMap<String, bool>,
    pub scripts: BTreeMap<String, bool>,
}

/// A running instance. Dropping it aborts the task without releasing; call
/// [`InstanceTask::shutdown`] for a clean stop.
pub struct InstanceTask {
    pub cfg: VrrpInstance,
    ctl: mpsc::Sender<Control>,
    join: JoinHandle<()>,
    status: watch::Receiver<InstanceStatus>,
}

/// Where an instance stands now (for the status document).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceStatus {
    pub state: State,
    /// The priority in force (after tracking).
    pub priority: u8,
    /// When it entered `state`.
    pub since: std::time::SystemTime,
}

impl InstanceTask {
    pub fn spawn(
        cfg: VrrpInstance,
        events: mpsc::Sender<StateEvent>,
        metrics: Shared,
    ) -> InstanceTask {
        let (ctl, rx) = mpsc::channel(4);
        let (status_tx, status) = watch::channel(InstanceStatus {
            state: State::Initialize,
            priority: cfg.priority,
            since: std::time::SystemTime::now(),
        });
        let span = info_span!("vrrp", instance = %cfg.name, vrid = cfg.vrid);
        let join = tokio::spawn(run(cfg.clone(), rx, events, metrics, status_tx).instrument(span));
        InstanceTask {
            cfg,
            ctl,
            join,
            status,
        }
    }

    /// The instance's state and priority now.
    pub fn status(&self) -> InstanceStatus {
        *self.status.borrow()
    }

    /// Moves this instance with its sync group (BACKUP or MASTER; ignored otherwise).
    pub fn sync_to(&self, to: State) {
        if self.ctl.try_send(Control::SyncTo(to)).is_err() {
            warn!(instance = %self.cfg.name, "sync group change not delivered (instance busy)");
        }
    }

    /// The health of the virtual servers and scripts this instance tracks.
    pub fn health(&self, health: &Arc<TrackHealth>) {
        if self.cfg.track_virtual_servers.is_empty() && self.cfg.track_scripts.is_empty() {
            return;
        }
        if self.ctl.try_send(Control::Health(health.clone())).is_err() {
            warn!(instance = %self.cfg.name, "tracked health not delivered (instance busy)");
        }
    }

    /// Releases mastership (a priority-0 advert, the addresses removed) and waits for the
    /// task to end, at most `limit`.
    pub async fn shutdown(self, limit: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(Control::Shutdown(tx)).await.is_ok()
            && tokio::time::timeout(limit, rx).await.is_err()
        {
            warn!(instance = %self.cfg.name, "vrrp instance did not stop in time");
        }
        self.join.abort();
    }
}

impl Drop for InstanceTask {
    fn drop(&mut self) {
        self.join.abort();
    }
}

// === setup ===

/// A device that carries virtual addresses: where to add them and how to announce them.
struct Device {
    index: u32,
    mac: Option<[u8; 6]>,
    /// IPv6 forwarding on: unsolicited NAs carry the Router flag (as keepalived does).
    router: bool,
    announcer: Option<Arc<Announcer>>,
}

/// What the task needs from the system, resolved once (and again after a failure).
struct Io {
    socket: VrrpSocket,
    local: IpAddr,
    devices: BTreeMap<String, Device>,
}

#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error("interface {name}")]
    Netif {
        name: String,
        #[source]
        source: NetifError,
    },
    #[error("no {family} address on {interface} to send advertisements from")]
    NoSource { interface: String, family: Family },
    #[error("cannot open the vrrp socket")]
    Socket(#[source] SocketError),
    #[error("the rtnetlink thread failed")]
    Join,
}

/// Resolved on a blocking thread: interface indexes, MACs, the source address.
struct Resolved {
    index: u32,
    local: IpAddr,
    devices: Vec<(String, u32, Option<[u8; 6]>)>,
}

fn resolve(cfg: &VrrpInstance) -> Result<Resolved, SetupError> {
    let nerr = |name: &str| {
        let name = name.to_string();
        move |source| SetupError::Netif { name, source }
    };
    let mut nl = Netif::open().map_err(nerr(&cfg.interface))?;
    let link = nl.link(&cfg.interface).map_err(nerr(&cfg.interface))?;
    let local = match cfg.unicast_source {
        Some(a) => a,
        None => nl
            .primary_address(link.index, cfg.family)
            .map_err(nerr(&cfg.interface))?
            .ok_or_else(|| SetupError::NoSource {
                interface: cfg.interface.clone(),
                family: cfg.family,
            })?,
    };
    let mut devices = Vec::new();
    let mut names: Vec<&str> = cfg
        .virtual_addresses
        .iter()
        .map(|v| v.device.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let l = nl.link(name).map_err(nerr(name))?;
        devices.push((name.to_string(), l.index, l.mac));
    }
    Ok(Resolved {
        index: link.index,
        local,
        devices,
    })
}

async fn setup(cfg: &VrrpInstance) -> Result<Io, SetupError> {
    let c = cfg.clone();
    let r = tokio::task::spawn_blocking(move || resolve(&c))
        .await
        .map_err(|_| SetupError::Join)??;
    let socket = VrrpSocket::open(&SocketConfig {
        ifindex: r.index,
        ifname: cfg.interface.clone(),
        family: cfg.family,
        unicast_source: cfg.unicast_source,
        unicast_peers: cfg.unicast_peers.clone(),
    })
    .map_err(SetupError::Socket)?;
    let mut devices = BTreeMap::new();
    for (name, index, mac) in r.devices {
        // Without an announcer the addresses still move; the network learns them later.
        let announcer = match Announcer::open(index, cfg.family) {
            Ok(a) => Some(Arc::new(a)),
            Err(e) => {
                warn!(device = %name, error = %crate::cli::error_chain(&e), "cannot announce on this device");
                None
            }
        };
        let router = cfg.family == Family::Inet6 && ipv6_forwarding(&name);
        devices.insert(
            name,
            Device {
                index,
                mac,
                router,
                announcer,
            },
        );
    }
    Ok(Io {
        socket,
        local: r.local,
        devices,
    })
}

fn ipv6_forwarding(dev: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{dev}/forwarding"))
        .is_ok_and(|s| s.trim() == "1")
}

// === the loop ===

/// How often the tracked interfaces are read without a notification: a safety net when
/// link notifications arrive, the only way when they cannot be had.
fn track_interval(notified: bool) -> tokio::time::Interval {
    let every = Duration::from_secs(if notified { 30 } else { 1 });
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

/// Link notifications, read when the reactor says they are there.
struct Links {
    watch: LinkWatch,
    ready: Registered,
}

impl Links {
    fn open() -> Result<Links, NetifError> {
        let watch = LinkWatch::open_nonblocking()?;
        let ready = watch
            .registrable_fd()
            .and_then(Registered::new)
            .map_err(NetifError::Open)?;
        Ok(Links { watch, ready })
    }
}

/// The next link notifications; never ready without a watch.
async fn next_link_events(links: Option<&mut Links>) -> Result<Vec<LinkEvent>, NetifError> {
    let Some(Links { watch, ready }) = links else {
        return std::future::pending().await;
    };
    let read = ready
        .read_with(|_| match watch.recv() {
            // Spurious wake-up: wait for readiness again.
            Err(e) if e.is_would_block() => Err(std::io::ErrorKind::WouldBlock.into()),
            r => Ok(r),
        })
        .await;
    read.map_err(|source| NetifError::Io {
        request: "link watch",
        source,
    })?
}

async fn run(
    cfg: VrrpInstance,
    mut ctl: mpsc::Receiver<Control>,
    events: mpsc::Sender<StateEvent>,
    metrics: Shared,
    status: watch::Sender<InstanceStatus>,
) {
    metrics.set_vrrp_state(&cfg.name, State::Initialize);
    // Every counter series of the instance exists from the start at 0 (label values
    // are fixed sets), so rate() and alerts see it before its first event.
    let label = Vrrp {
        vrrp_instance: cfg.name.clone(),
    };
    let _ = metrics.vrrp_became_master.get_or_create(&label);
    let _ = metrics.vrrp_adverts_sent.get_or_create(&label);
    let _ = metrics.vrrp_adverts_received.get_or_create(&label);
    for s in State::ALL {
        let _ = metrics.vrrp_transitions.get_or_create(&VrrpTo {
            vrrp_instance: cfg.name.clone(),
            to: s.as_str(),
        });
    }
    for r in DropReason::ALL {
        let _ = metrics.vrrp_packets_dropped.get_or_create(&VrrpReason {
            vrrp_instance: cfg.name.clone(),
            reason: r.as_str(),
        });
    }
    metrics
        .vrrp_priority
        .get_or_create(&Vrrp {
            vrrp_instance: cfg.name.clone(),
        })
        .set(i64::from(cfg.priority));
    // The interface may appear later (a VLAN created after boot): retry, stay stoppable.
    let io = loop {
        match setup(&cfg).await {
            Ok(io) => break io,
            Err(e) => {
                error!(error = %crate::cli::error_chain(&e), "vrrp instance cannot start; retrying in 5s");
                tokio::select! {
                    _ = sleep(Duration::from_secs(5)) => {}
                    c = ctl.recv() => match c {
                        Some(Control::SyncTo(_) | Control::Health(_)) => {}
                        Some(Control::Shutdown(done)) => {
                            let _ = done.send(());
                            return;
                        }
                        None => return,
                    }
                }
            }
        }
    };
    info!(interface = %cfg.interface, source = %io.local, "vrrp instance started");
    let mut runner = Runner::new(cfg, io, events, metrics, status);
    runner.main(&mut ctl).await;
}

struct Runner {
    cfg: VrrpInstance,
    io: Io,
    fsm: Instance,
    events: mpsc::Sender<StateEvent>,
    expect: Expect,
    auth: Auth,
    vips: Vec<IpAddr>,
    drops: BTreeMap<&'static str, u64>,
    /// When each drop reason was last logged (rate limit).
    drop_logged: BTreeMap<&'static str, Instant>,
    /// Fires the state machine's deadlines (None: tokio's timer).
    timer: Option<PreciseTimer>,
    /// The rtnetlink socket the virtual addresses are changed on.
    netif: Option<Netif>,
    /// The running burst of announcements, if any.
    announcing: Option<JoinHandle<()>>,
    metrics: Shared,
    /// This instance's label, and handles resolved once.
    label: Vrrp,
    sent: Counter,
    received: Counter,
    /// The last tracked state handed to the state machine: interfaces down, services
    /// without a healthy real server, scripts failing.
    down: Vec<bool>,
    dead: Vec<bool>,
    failing: Vec<bool>,
    /// State and priority for the status document.
    status: watch::Sender<InstanceStatus>,
}

const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// Until `deadline`: on the precise timer, or tokio's (1 ms resolution) without one.
async fn wait_until(
    timer: &Option<PreciseTimer>,
    deadline: Option<std::time::Instant>,
) -> std::io::Result<()> {
    let deadline = deadline.unwrap_or_else(std::time::Instant::now);
    match timer {
        Some(t) => t.sleep_until(deadline).await,
        None => {
            sleep_until(Instant::from_std(deadline)).await;
            Ok(())
        }
    }
}

impl Runner {
    fn new(
        cfg: VrrpInstance,
        io: Io,
        events: mpsc::Sender<StateEvent>,
        metrics: Shared,
        status: watch::Sender<InstanceStatus>,
    ) -> Runner {
        let label = Vrrp {
            vrrp_instance: cfg.name.clone(),
        };
        let sent = metrics.vrrp_adverts_sent.get_or_create(&label).clone();
        let received = metrics.vrrp_adverts_received.get_or_create(&label).clone();
        let auth = cfg
            .auth_password
            .as_deref()
            .and_then(|p| Auth::password(p.as_bytes()))
            .unwrap_or(Auth::None);
        let expect = Expect {
            vrid: cfg.vrid,
            version: cfg.version,
            family: cfg.family,
            interval: cfg.advert_interval,
            auth,
        };
        let fsm = Instance::new(Params {
            version: cfg.version,
            priority: cfg.priority,
            advert_interval: cfg.advert_interval,
            preempt: cfg.preempt,
            preempt_delay: cfg.preempt_delay,
            local_addr: io.local,
        });
        let vips = cfg.virtual_addresses.iter().map(|v| v.address).collect();
        let down = vec![false; cfg.track_interfaces.len()];
        let dead = vec![false; cfg.track_virtual_servers.len()];
        let failing = vec![false; cfg.track_scripts.len()];
        Runner {
            cfg,
            io,
            fsm,
            events,
            expect,
            auth,
            vips,
            drops: BTreeMap::new(),
            drop_logged: BTreeMap::new(),
            announcing: None,
            timer: match PreciseTimer::new() {
                Ok(t) => Some(t),
                Err(e) => {
                    warn!(error = %e, "no timerfd; vrrp deadlines use the runtime's 1 ms timer");
                    None
                }
            },
            netif: None,
            metrics,
            label,
            sent,
            received,
            down,
            dead,
            failing,
            status,
        }
    }

    async fn main(&mut self, ctl: &mut mpsc::Receiver<Control>) {
        // Addresses left behind by a run that was killed (SIGKILL, a crash) would answer
        // ARP beside the real master: a starting router holds none (RFC 5798 section 6.4.2:
        // a backup MUST NOT respond for them). The address owner's are its own.
        if !(self.cfg.address_owner || self.cfg.priority == 255) {
            self.addresses(false);
        }
        // Link notifications are subscribed before the first read, so that no change
        // falls in between.
        let mut links = self.watch_links();
        // Tracked interfaces first, so an instance whose link is down starts in FAULT.
        self.poll_tracking().await;
        self.input(Input::Startup).await;
        let mut track_tick = track_interval(links.is_some());
        let refresh = self.cfg.garp.refresh;
        let mut refresh_tick = interval(if refresh.is_zero() {
            Duration::from_secs(3600)
        } else {
            refresh
        });
        refresh_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        refresh_tick.tick().await;
        let mut buf = vec![0u8; 2048];
        loop {
            let deadline = self.fsm.next_deadline();
            tokio::select! {
                c = ctl.recv() => match c {
                    Some(Control::SyncTo(to)) => self.input(Input::SyncTo(to)).await,
                    Some(Control::Health(h)) => self.health(&h).await,
                    Some(Control::Shutdown(done)) => {
                        self.input(Input::Shutdown).await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.input(Input::Shutdown).await;
                        return;
                    }
                },
                r = self.io.socket.recv(&mut buf) => {
                    let input = match r {
                        Ok(rx) => match packet::validate(&rx, &self.expect) {
                            Ok(a) => Ok(Input::Advert { from: rx.src, priority: a.priority, interval: a.interval }),
                            Err(reason) => Err(reason),
                        },
                        Err(e) if e.is_malformed() => Err(DropReason::Malformed),
                        Err(e) => {
                            warn!(error = %crate::cli::error_chain(&e), "vrrp receive failed");
                            sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    match input {
                        Ok(i) => {
                            self.received.inc();
                            self.input(i).await;
                        }
                        Err(reason) => self.dropped(reason),
                    }
                }
                r = wait_until(&self.timer, deadline), if deadline.is_some() => {
                    if let Err(e) = r {
                        warn!(error = %e, "vrrp timer failed; using the runtime's");
                        self.timer = None;
                    }
                    self.input(Input::Timer).await;
                }
                _ = track_tick.tick(), if !self.cfg.track_interfaces.is_empty() => {
                    self.poll_tracking().await;
                }
                r = next_link_events(links.as_mut()) => match r {
                    Ok(events) => {
                        if events.iter().any(|e| self.tracks(e)) {
                            self.poll_tracking().await;
                        }
                    }
                    Err(NetifError::WatchOverrun) => {
                        debug!("link notifications were lost; reading the tracked interfaces");
                        self.poll_tracking().await;
                    }
                    // One unreadable notification: whatever it said, a fresh read knows.
                    Err(e @ NetifError::Decode { .. }) => {
                        warn!(error = %crate::cli::error_chain(&e), "unreadable link notification; reading the tracked interfaces");
                        self.poll_tracking().await;
                    }
                    Err(e) => {
                        warn!(error = %crate::cli::error_chain(&e), "link notifications failed; polling the tracked interfaces every second");
                        links = None;
                        track_tick = track_interval(false);
                    }
                },
                _ = refresh_tick.tick(), if !refresh.is_zero() => {
                    if self.fsm.state() == State::Master {
                        self.announce();
                    }
                }
            }
        }
    }

    fn dropped(&mut self, reason: DropReason) {
        let label = reason.as_str();
        self.metrics
            .vrrp_packets_dropped
            .get_or_create(&VrrpReason {
                vrrp_instance: self.cfg.name.clone(),
                reason: label,
            })
            .inc();
        *self.drops.entry(label).or_default() += 1;
        if !reason.is_logged() {
            return;
        }
        let now = Instant::now();
        let due = self
            .drop_logged
            .get(label)
            .is_none_or(|t| now >= *t + DROP_LOG_EVERY);
        if due {
            self.drop_logged.insert(label, now);
            warn!(
                reason = %label,
                dropped = self.drops[label],
                "vrrp advert dropped"
            );
        } else {
            debug!(reason = %label, "vrrp advert dropped");
        }
    }

    /// Link notifications for the tracked interfaces, if any are tracked (None: none are,
    /// or the subscription failed, which is logged; the interfaces are then polled).
    fn watch_links(&self) -> Option<Links> {
        if self.cfg.track_interfaces.is_empty() {
            return None;
        }
        match Links::open() {
            Ok(w) => Some(w),
            Err(e) => {
                warn!(error = %crate::cli::error_chain(&e), "no link notifications; polling the tracked interfaces every second");
                None
            }
        }
    }

    /// Whether a link notification is about a tracked interface.
    fn tracks(&self, event: &LinkEvent) -> bool {
        let (LinkEvent::Changed(link) | LinkEvent::Removed(link)) = event;
        self.cfg
            .track_interfaces
            .iter()
            .any(|t| t.name == link.name)
    }

    /// Reads the tracked interfaces; hands a changed priority or fault to the machine.
    async fn poll_tracking(&mut self) {
        if self.cfg.track_interfaces.is_empty() {
            return;
        }
        let names: Vec<String> = self
            .cfg
            .track_interfaces
            .iter()
            .map(|t| t.name.clone())
            .collect();
        let down = tokio::task::spawn_blocking(move || {
            let mut nl = Netif::open()?;
            Ok::<_, NetifError>(
                names
                    .iter()
                    .map(|n| nl.link(n).map(|l| !l.is_up()).unwrap_or(true))
                    .collect::<Vec<bool>>(),
            )
        })
        .await;
        let down = match down {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                warn!(error = %crate::cli::error_chain(&e), "cannot read the tracked interfaces");
                return;
            }
            Err(_) => return,
        };
        if down == self.down && self.fsm.state() != State::Initialize {
            return;
        }
        for (t, (was, now)) in self
            .cfg
            .track_interfaces
            .iter()
            .zip(self.down.iter().zip(&down))
        {
            if was != now {
                info!(
                    interface = %t.name,
                    up = !now,
                    "tracked interface changed"
                );
            }
        }
        self.down = down;
        self.apply_tracking().await;
    }

    /// New health of the virtual servers and scripts (missing names count as healthy:
    /// nothing to say).
    async fn health(&mut self, h: &TrackHealth) {
        let bad = |names: &mut dyn Iterator<Item = &String>, ok: &BTreeMap<String, bool>| {
            names
                .map(|n| !ok.get(n).copied().unwrap_or(true))
                .collect::<Vec<bool>>()
        };
        let dead = bad(
            &mut self.cfg.track_virtual_servers.iter().map(|t| &t.name),
            &h.services,
        );
        let failing = bad(
            &mut self.cfg.track_scripts.iter().map(|t| &t.name),
            &h.scripts,
        );
        if dead == self.dead && failing == self.failing {
            return;
        }
        for (t, (was, now)) in self
            .cfg
            .track_virtual_servers
            .iter()
            .zip(self.dead.iter().zip(&dead))
        {
            if was != now {
                info!(virtual_server = %t.name, healthy = !now, "tracked virtual server changed");
            }
        }
        for (t, (was, now)) in self
            .cfg
            .track_scripts
            .iter()
            .zip(self.failing.iter().zip(&failing))
        {
            if was != now {
                info!(script = %t.name, passing = !now, weight = t.weight, "tracked script changed");
            }
        }
        self.dead = dead;
        self.failing = failing;
        self.apply_tracking().await;
    }

    async fn apply_tracking(&mut self) {
        let t = tracked(&self.cfg, &self.down, &self.dead, &self.failing);
        self.input(Input::Priority(t.priority)).await;
        self.input(Input::Fault(t.fault)).await;
        let priority = self.fsm.priority();
        self.metrics
            .vrrp_priority
            .get_or_create(&self.label)
            .set(i64::from(priority));
        self.status.send_if_modified(|s| {
            let changed = s.priority != priority;
            s.priority = priority;
            changed
        });
    }

    async fn input(&mut self, input: Input) {
        let now = std::time::Instant::now();
        let actions = self.fsm.handle(now, input);
        for a in actions {
            self.act(a).await;
        }
    }

    async fn act(&mut self, a: Action) {
        match a {
            Action::SendAdvert { priority } => self.send_advert(priority).await,
            Action::AddAddresses => self.addresses(true),
            Action::RemoveAddresses => {
                if let Some(h) = self.announcing.take() {
                    h.abort();
                }
                self.addresses(false);
            }
            Action::Announce => self.announce(),
            Action::StateChanged { from, to, reason } => {
                let priority = self.fsm.priority();
                self.status.send_replace(InstanceStatus {
                    state: to,
                    priority,
                    since: std::time::SystemTime::now(),
                });
                let m = &self.metrics;
                m.set_vrrp_state(&self.cfg.name, to);
                m.vrrp_transitions
                    .get_or_create(&VrrpTo {
                        vrrp_instance: self.cfg.name.clone(),
                        to: to.as_str(),
                    })
                    .inc();
                if to == State::Master {
                    m.vrrp_became_master.get_or_create(&self.label).inc();
                }
                info!(
                    from = %from,
                    to = %to,
                    reason = %reason.as_str(),
                    priority,
                    "vrrp state changed"
                );
                let ev = StateEvent {
                    instance: self.cfg.name.clone(),
                    from,
                    to,
                    reason,
                    priority,
                };
                if self.events.try_send(ev).is_err() {
                    warn!("vrrp state event not delivered (daemon busy)");
                }
            }
        }
    }

    async fn send_advert(&mut self, priority: u8) {
        let advert = Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            interval: self.cfg.advert_interval,
            addresses: self.vips.clone(),
            auth: match self.cfg.version {
                VrrpVersion::V2 => self.auth,
                VrrpVersion::V3 => Auth::None,
            },
        };
        for dst in self.io.socket.destinations() {
            let msg = match packet::encode(&advert, self.io.local, dst) {
                Ok(m) => m,
                Err(e) => {
                    // The config was validated against the same limits: a bug if reached.
                    error!(error = %e, "cannot encode the advert");
                    return;
                }
            };
            match self.io.socket.send(&msg, self.io.local, dst).await {
                Ok(()) => {
                    self.sent.inc();
                }
                Err(e) => debug!(error = %crate::cli::error_chain(&e), %dst, "advert not sent"),
            }
        }
    }

    /// Adds (or removes) every virtual address on its device. Inline: a request and its
    /// ACK on a local netlink socket take microseconds, and a new master must hold its
    /// addresses without waiting for a thread hand-off. The socket is kept, and opened
    /// again after an I/O error.
    fn addresses(&mut self, add: bool) {
        let what = if add { "add" } else { "remove" };
        if self.netif.is_none() {
            match Netif::open() {
                Ok(n) => self.netif = Some(n),
                Err(e) => {
                    error!(op = what, error = %crate::cli::error_chain(&e), "virtual addresses not changed");
                    return;
                }
            }
        }
        let Some(nl) = self.netif.as_mut() else {
            return;
        };
        let mut broken = false;
        for v in &self.cfg.virtual_addresses {
            let Some(d) = self.io.devices.get(&v.device) else {
                continue;
            };
            let r = if add {
                nl.add_address(d.index, v.address, v.prefix_len).map(drop)
            } else {
                nl.del_address(d.index, v.address, v.prefix_len).map(drop)
            };
            if let Err(e) = r {
                broken |= matches!(e, NetifError::Io { .. } | NetifError::Decode { .. });
                error!(addr = %v.address, op = what, error = %crate::cli::error_chain(&e), "virtual address change failed");
            }
        }
        if broken {
            self.netif = None;
        }
    }

    /// Starts a burst of `garp.repeat` announcements, `garp.delay` apart, replacing a
    /// running one.
    fn announce(&mut self) {
        if let Some(h) = self.announcing.take() {
            h.abort();
        }
        // The announcers are shared read-only with the burst task (`announce` takes &self).
        let mut plan = Vec::new();
        for v in &self.cfg.virtual_addresses {
            if let Some(d) = self.io.devices.get(&v.device)
                && let (Some(mac), Some(a)) = (d.mac, d.announcer.as_ref())
            {
                plan.push((Arc::clone(a), v.address, mac, d.router));
            }
        }
        if plan.is_empty() {
            return;
        }
        let (repeat, delay) = (self.cfg.garp.repeat, self.cfg.garp.delay);
        let burst = async move {
            for i in 0..repeat {
                if i > 0 {
                    sleep(delay).await;
                }
                for (a, addr, mac, router) in &plan {
                    if let Err(e) = a.announce(*addr, *mac, *router).await {
                        debug!(%addr, error = %crate::cli::error_chain(&e), "announcement not sent");
                    }
                }
            }
        };
        self.announcing = Some(tokio::spawn(burst.in_current_span()));
    }
}
