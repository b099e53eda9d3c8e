//! The job queue's side in the server: the handlers by kind ([`Handlers`]), the context a
//! handler gets ([`JobContext`], not the whole state), and the [`Worker`] that claims due jobs
//! with a lease and runs each with its handler.

mod handler;
mod worker;

pub use handler::{Handlers, JobContext, JobError, JobHandler};
pub use worker::{Worker, drain};
