//! Reading a config file from disk: the I/O shell around `node` and `schema`.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::node::{self, Diag};
use super::schema::{self, Env};
use super::types::Config;

/// Files larger than this are refused before parsing.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the file is {size} bytes; a config is at most {MAX_CONFIG_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{}: not UTF-8 text (first bad byte at offset {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{}", Problems { file, diags })]
    Invalid { file: PathBuf, diags: Vec<Diag> },
    #[error(
        "{}: writable by every user (mode {mode:04o}): anyone could change what ipvsd directs and which programs it runs; `chmod o-w` it (or set {ALLOW_INSECURE_ENV}=1 to load it anyway)",
        path.display()
    )]
    WorldWritable { path: PathBuf, mode: u32 },
    /// A directory, FIFO, device or socket: opening a FIFO would block, and a device such
    /// as /dev/zero never ends.
    #[error("{}: not a regular file", path.display())]
    NotRegular { path: PathBuf },
}

/// Environment variable that lets a world-writable config load (documented override).
pub const ALLOW_INSECURE_ENV: &str = "IPVSD_ALLOW_INSECURE_CONFIG";

impl LoadError {
    /// The individual problems, for callers that log them one by one.
    pub fn problems(&self) -> Vec<String> {
        match self {
            LoadError::Invalid { file, diags } => diags
                .iter()
                .map(|d| format!("{}:{d}", file.display()))
                .collect(),
            other => vec![crate::cli::error_chain(other)],
        }
    }
}

struct Problems<'a> {
    file: &'a Path,
    diags: &'a [Diag],
}

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diags.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{d}", self.file.display())?;
        }
        Ok(())
    }
}

/// The real machine: host name from the kernel, files checked with the process's rights,
/// relative paths taken from `base_dir` (the config file's folder).
pub struct SystemEnv {
    pub base_dir: PathBuf,
}

impl Env for SystemEnv {
    fn resolve(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }

    fn hostname(&self) -> String {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "ipvsd".to_string())
    }

    fn check_readable(&self, path: &Path) -> Result<(), String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".to_string());
        }
        std::fs::File::open(path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn check_executable(&self, path: &Path) -> Result<(), String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".to_string());
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err("not executable".to_string());
        }
        Ok(())
    }
}

/// Reads, parses and validates a config file.
pub fn load_file(path: &Path) -> Result<Config, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(LoadError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        let allowed = std::env::var(ALLOW_INSECURE_ENV).is_ok_and(|v| v == "1");
        if mode & 0o002 != 0 && !allowed {
            return Err(LoadError::WorldWritable {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
        });
    }
    // Read at most one byte past the limit: the file may have grown since `metadata`.
    let mut bytes = Vec::new();
    {
        use std::io::Read;
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
            .map_err(io)?;
    }
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| LoadError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    load_str(&text, path, &SystemEnv { base_dir })
}

/// Parses and validates config text; `file` is only used in messages.
pub fn load_str(text: &str, file: &Path, env: &dyn Env) -> Result<Config, LoadError> {
    let invalid = |diags| LoadError::Invalid {
        file: file.to_path_buf(),
        diags,
    };
    let root = node::parse(text).map_err(|d| invalid(vec![d]))?;
    schema::decode(&root, env).map_err(|d| invalid(d.into_sorted()))
}
