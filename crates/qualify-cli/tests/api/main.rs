//! Black-box tests of the HTTP contract (api.md), against the real binary.

mod helpers;
// Shared with the in-process suite (crates/qualify-server/tests/http).
#[path = "../../../qualify-server/tests/common/db.rs"]
mod db;
#[path = "../../../qualify-server/tests/common/figures.rs"]
mod figures;
#[path = "../../../qualify-server/tests/common/wire.rs"]
mod wire_contract;

mod admin_cli;
mod attacks;
mod backup;
mod client_cli;
mod cluster;
mod config;
mod control;
mod control_cli;
mod crash;
mod durability;
mod events;
mod healthcheck;
mod logs;
mod oidc;
mod secrets;
mod single_instance;
mod slow;
mod traffic;
mod usage;
mod vetting;
mod webhooks;
mod wire;
mod workload;
