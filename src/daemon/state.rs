//! What must outlive the daemon: the operator's drains, in `global.state_dir`/`drains`.
//!
//! A real server drained for maintenance stays drained across a restart or an upgrade
//! (before, a restart put it back in rotation). I/O only: the file's text and its reading
//! are `status::drains_text` and `status::drains_from_text`. A file that cannot be read or
//! written costs the persistence, never the drain: it is logged (once per distinct error)
//! and the drains hold in memory.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::config::Config;
use crate::ipvs::model::{DestKey, ServiceKey};
use crate::status;

/// The file's name in the state directory.
pub const DRAINS_FILE: &str = "drains";

type Drains = BTreeSet<(ServiceKey, DestKey)>;

#[derive(Debug, Default)]
pub struct DrainFile {
    path: Option<PathBuf>,
    /// What the file holds (as last read or written), so an unchanged set is not written.
    holds: Option<String>,
    /// The last write error, logged once until it changes.
    failing: Option<String>,
}

impl DrainFile {
    /// The drains file in `dir`; None: drains are not kept across restarts.
    pub fn new(dir: Option<&Path>) -> DrainFile {
        DrainFile {
            path: dir.map(|d| d.join(DRAINS_FILE)),
            ..DrainFile::default()
        }
    }

    /// A reload may move the state directory: the next `save` writes the new file.
    pub fn set_dir(&mut self, dir: Option<&Path>) {
        let path = dir.map(|d| d.join(DRAINS_FILE));
        if path != self.path {
            *self = DrainFile::new(dir);
        }
    }

    /// The drains the previous run kept that `cfg` still has (none without a file).
    pub fn load(&mut self, cfg: &Config) -> Drains {
        let Some(path) = &self.path else {
            return Drains::new();
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Drains::new(),
            Err(e) => {
                warn!(file = %path.display(), error = %e, "cannot read the drains kept by the last run; starting with none");
                return Drains::new();
            }
        };
        let (drains, dropped) = status::drains_from_text(&text, cfg);
        for entry in dropped {
            warn!(file = %path.display(), entry = %entry, "kept drain dropped");
        }
        if !drains.is_empty() {
            info!(file = %path.display(), drains = drains.len(), "drains kept by the last run restored");
        }
        self.holds = Some(text);
        drains
    }

    /// Writes `drains` unless the file already holds them: to a temporary file, synced,
    /// then renamed over the old one, so a crash leaves the old set or the new one.
    pub fn save(&mut self, drains: &Drains) {
        let Some(path) = &self.path else {
            return;
        };
        // No file and nothing drained say the same: a run that drains nothing writes
        // nothing (and needs no state directory).
        if drains.is_empty() && self.holds.is_none() && !path.exists() {
            return;
        }
        let text = status::drains_text(drains);
        if self.holds.as_deref() == Some(text.as_str()) {
            return;
        }
        match write_atomically(path, &text) {
            Ok(()) => {
                self.holds = Some(text);
                if self.failing.take().is_some() {
                    info!(file = %path.display(), "drains kept in the state file again");
                }
            }
            Err(e) => {
                let error = e.to_string();
                if self.failing.as_deref() != Some(error.as_str()) {
                    warn!(file = %path.display(), error = %error, "cannot keep the drains in the state file: they hold until ipvsd stops");
                    self.failing = Some(error);
                }
            }
        }
    }
}

/// Creates the directory if needed (0700: the unit's `StateDirectoryMode`; outside
/// systemd, e.g. a daemon started by hand), then writes.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema::NoFiles;

    fn cfg() -> Config {
        let y = "virtual_servers:\n  - name: web\n    address: 192.0.2.7:80\n    real_servers:\n      - address: 198.51.100.27:80\n      - address: 198.51.100.37:80\n";
        crate::config::load_str(y, Path::new("t"), &NoFiles).unwrap()
    }

    #[test]
    fn drains_saved_are_loaded_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg();
        let vs = &c.virtual_servers[0];
        let key = (vs.key, crate::controller::dest_key(&vs.real_servers[1]));
        let mut f = DrainFile::new(Some(dir.path()));
        assert!(f.load(&c).is_empty(), "no file yet: nothing drained");
        f.save(&[key].into());
        let mut next = DrainFile::new(Some(dir.path()));
        assert_eq!(next.load(&c), [key].into());
        // Undrained: the file says so.
        next.save(&Drains::new());
        assert!(DrainFile::new(Some(dir.path())).load(&c).is_empty());
        assert!(!dir.path().join("drains.tmp").exists());
    }

    #[test]
    fn a_missing_state_dir_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("var/lib/ipvsd");
        let c = cfg();
        let vs = &c.virtual_servers[0];
        let key = (vs.key, crate::controller::dest_key(&vs.real_servers[0]));
        DrainFile::new(Some(&dir)).save(&[key].into());
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(DrainFile::new(Some(&dir)).load(&c), [key].into());
    }

    #[test]
    fn an_unwritable_state_dir_keeps_nothing_and_fails_nothing() {
        let c = cfg();
        // A path under a regular file: no directory can be made there.
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut f = DrainFile::new(Some(&file.path().join("state")));
        let vs = &c.virtual_servers[0];
        let key = (vs.key, crate::controller::dest_key(&vs.real_servers[0]));
        f.save(&[key].into());
        assert!(f.failing.is_some());
        assert!(f.load(&c).is_empty());
        // No state dir at all: nothing is read or written.
        let mut none = DrainFile::new(None);
        none.save(&[key].into());
        assert!(none.load(&c).is_empty());
    }
}
