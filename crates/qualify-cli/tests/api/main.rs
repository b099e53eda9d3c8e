//! Black-box tests of the HTTP contract (api.md), against the real binary.

mod helpers;

mod admin_cli;
mod attacks;
mod auth;
mod backup;
mod client_cli;
mod cluster;
mod config;
mod crash;
mod customers;
mod db;
mod durability;
mod errors;
mod figures;
mod hostile;
mod oidc;
mod qualifications;
mod secrets;
mod slow;
mod smoke;
mod traffic;
mod vetting;
mod workload;
