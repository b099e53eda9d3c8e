//! The wire models: camelCase JSON, nulls omitted on the way out, unknown properties ignored on
//! the way in. Every enum is *open*: a value this SDK does not know (Microsoft adds values from
//! time to time) is kept in `Other(String)` instead of failing the whole response.
//!
//! By area: [`enums`], [`resources`] (the `/v1` resources), [`operator`], [`control`],
//! [`webhooks`]; everything is also named here.

mod open_enum;

pub mod control;
pub mod enums;
pub mod operator;
pub mod resources;
pub mod webhooks;

pub use control::*;
pub use enums::*;
pub use operator::*;
pub use resources::*;
pub use webhooks::*;

#[cfg(test)]
mod tests;
