//! The qualify domain. No I/O lives here: the rules of a qualification request, the vetting
//! state machine, the vetting policy and the error catalogue are plain functions over plain
//! data, so that storage and HTTP only translate.

pub mod clock;
pub mod command;
pub mod commands;
pub mod customer;
pub mod effects;
pub mod engine;
pub mod error;
pub mod faults;
pub mod fixture;
pub mod ids;
pub mod jobs;
pub mod policy;
pub mod qualification;
pub mod rules;
pub mod scenario;
pub mod snapshot;
pub mod time_fmt;
pub mod validation;
pub mod webhooks;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{DomainError, ErrorKind};
pub use ids::{CustomerId, PartnerId};
