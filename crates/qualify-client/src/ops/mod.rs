//! The operations, one module per resource, following the paths of the API.

pub mod admin;
pub mod control;
mod customer_ref;
pub mod customers;
pub mod events;
pub mod qualifications;
pub mod validations;
pub mod webhooks;
