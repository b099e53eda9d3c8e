//! Every stateful write as a [`Command`](crate::command::Command), by area. Each names its
//! snapshot (what the store loads and locks), plans over it with the rules of this crate, and
//! answers; the store runs them all the same way.

pub mod control;
pub mod customers;
pub mod faults;
pub mod qualifications;
pub mod queue;
pub mod webhooks;
