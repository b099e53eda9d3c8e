//! HTTP behaviour tests, in process: the real router on a fresh store with a manual clock
//! (`qualify_server::testing::TestApp`). Jobs run when a test drains the queue; nothing sleeps.
//! `QUALIFY_TEST_BACKEND=postgres` runs the same tests on PostgreSQL.

mod support;

mod console;
mod control_clock;
mod control_state;
mod control_vetting;
mod metrics;
mod traffic;
mod vetting;
mod webhooks;
