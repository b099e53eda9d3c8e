//! HTTP behaviour tests, in process: the real router on a fresh store with a manual clock
//! (`qualify_server::testing::TestApp`). Jobs run when a test drains the queue; nothing sleeps.
//! `QUALIFY_TEST_BACKEND=postgres` runs the same tests on PostgreSQL.

#[path = "../common/db.rs"]
mod db;
#[path = "../common/figures.rs"]
mod figures;
mod support;
#[path = "../common/wire.rs"]
mod wire;

mod auth;
mod console;
mod control_clock;
mod control_state;
mod control_vetting;
mod customers;
mod errors;
mod hostile;
mod paths;
mod qualifications;
mod traffic;
mod transport;
mod vetting;
mod webhooks;
