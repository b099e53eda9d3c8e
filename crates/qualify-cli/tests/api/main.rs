//! Black-box tests of the HTTP contract (api.md), against the real binary.

mod helpers;

mod auth;
mod cluster;
mod customers;
mod errors;
mod oidc;
mod qualifications;
mod smoke;
mod vetting;
