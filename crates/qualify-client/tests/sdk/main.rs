//! Integration tests of the SDK: against a real qualify server (in-process, fresh SQLite file
//! per test), and against stub servers and a faulty proxy for what a real server does not do
//! on demand (unknown enum values, 5xx, dropped connections).

mod support;

mod control;
mod control_state;
mod errors;
mod retries;
mod surface;
mod unknown_values;
mod webhooks;
