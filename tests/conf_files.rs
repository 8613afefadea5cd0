//! Every file under conf/ loads, and each lab config describes the rules the seed typed.

use std::path::{Path, PathBuf};

use ipvsd::config::load_file;
use ipvsd::controller::configured_table;
use ipvsd::ipvs::save::save;

fn conf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conf")
}

fn dry_run(name: &str) -> String {
    let cfg = load_file(&conf_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    save(&configured_table(&cfg))
}

#[test]
fn every_file_under_conf_loads() {
    let mut loaded = Vec::new();
    for entry in std::fs::read_dir(conf_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            if let Err(e) = load_file(&path) {
                panic!("{}:\n{e}", path.display());
            }
            loaded.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    loaded.sort();
    assert_eq!(
        loaded,
        [
            "director-a.yaml",
            "director-b.yaml",
            "fwmark-https.yaml",
            "ipvsd.yaml",
            "lvs-dr.yaml",
            "lvs-nat-wrr.yaml",
            "lvs-nat.yaml",
            "persistent-all-ports.yaml",
        ]
    );
}

#[test]
fn lvs_nat_is_the_seeds_rr_service() {
    assert_eq!(
        dry_run("lvs-nat.yaml"),
        "-A -t 203.0.113.7:80 -s rr\n\
         -a -t 203.0.113.7:80 -r 198.51.100.27:80 -m -w 1\n\
         -a -t 203.0.113.7:80 -r 198.51.100.37:80 -m -w 1\n"
    );
}

#[test]
fn lvs_nat_wrr_weighs_one_to_two() {
    assert_eq!(
        dry_run("lvs-nat-wrr.yaml"),
        "-A -t 203.0.113.7:80 -s wrr\n\
         -a -t 203.0.113.7:80 -r 198.51.100.27:80 -m -w 1\n\
         -a -t 203.0.113.7:80 -r 198.51.100.37:80 -m -w 2\n"
    );
}

#[test]
fn lvs_dr_routes_directly() {
    assert_eq!(
        dry_run("lvs-dr.yaml"),
        "-A -t 198.51.100.99:80 -s rr\n\
         -a -t 198.51.100.99:80 -r 198.51.100.27:80 -g -w 1\n\
         -a -t 198.51.100.99:80 -r 198.51.100.37:80 -g -w 1\n"
    );
}

#[test]
fn fwmark_three_uses_source_hashing_and_verified_https_checks() {
    assert_eq!(
        dry_run("fwmark-https.yaml"),
        "-A -f 3 -s sh\n\
         -a -f 3 -r 198.51.100.27:0 -g -w 1\n\
         -a -f 3 -r 198.51.100.37:0 -g -w 1\n"
    );
    let cfg = load_file(&conf_dir().join("fwmark-https.yaml")).unwrap();
    let https = cfg.virtual_servers[0].real_servers[0]
        .checks
        .iter()
        .find_map(|c| match &c.kind {
            ipvsd::config::CheckKind::Https(_, tls) => Some(tls.clone()),
            _ => None,
        })
        .expect("an https check");
    // The relative CA path is resolved against conf/, and only that CA is trusted.
    assert_eq!(https.ca_file, Some(conf_dir().join("certs/lab-ca.pem")));
    assert!(!https.system_roots);
    assert_eq!(https.server_name.as_deref(), Some("www.example.com"));
}

#[test]
fn the_all_ports_service_persists_360_seconds() {
    assert_eq!(
        dry_run("persistent-all-ports.yaml"),
        "-A -t 198.51.100.99:0 -s rr -p 360\n\
         -a -t 198.51.100.99:0 -r 198.51.100.27:0 -g -w 1\n\
         -a -t 198.51.100.99:0 -r 198.51.100.37:0 -g -w 1\n"
    );
}

#[test]
fn the_director_pair_differs_only_in_name_priority_and_unicast_comments() {
    let a = load_file(&conf_dir().join("director-a.yaml")).unwrap();
    let b = load_file(&conf_dir().join("director-b.yaml")).unwrap();
    assert_eq!(a.virtual_servers, b.virtual_servers);
    let (va, vb) = (&a.vrrp_instances[0], &b.vrrp_instances[0]);
    assert_eq!((va.vrid, vb.vrid), (51, 51));
    assert!(va.priority > vb.priority);
    let mut vb_as_a = vb.clone();
    vb_as_a.priority = va.priority;
    assert_eq!(&vb_as_a, va);
    assert_eq!(va.virtual_addresses.len(), 2, "VIP and DIP move together");
    assert!(va.ipvs_sync.is_some());
}
