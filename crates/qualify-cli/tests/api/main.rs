//! Black-box tests of the HTTP contract (api.md), against the real binary.

mod helpers;

mod admin_cli;
mod attacks;
mod auth;
mod backup;
mod client_cli;
mod cluster;
mod config;
mod control;
mod control_cli;
mod crash;
mod customers;
mod db;
mod durability;
mod errors;
mod events;
mod figures;
mod healthcheck;
mod hostile;
mod logs;
mod oidc;
mod paths;
mod qualifications;
mod secrets;
mod single_instance;
mod slow;
mod smoke;
mod traffic;
mod usage;
mod vetting;
mod webhooks;
mod workload;
