//! Configuration: the YAML file, decoded and validated once into typed config.
//!
//! `node` parses YAML into located nodes, `schema` decodes and checks them (reporting every
//! problem with line:column and document path), `types` is the result, `load` reads files.

mod load;
pub mod node;
pub mod schema;
pub mod types;

pub use load::{LoadError, MAX_CONFIG_BYTES, SystemEnv, load_file, load_str};
pub use types::*;

/// Where the daemon looks for its config unless told otherwise.
pub const DEFAULT_PATH: &str = "/etc/ipvsd/ipvsd.yaml";
