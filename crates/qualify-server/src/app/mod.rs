//! The assembly: the one place that knows every capability. The server's settings
//! ([`config`]), its services ([`state`]), every operation ([`operations`]) and the OpenAPI
//! document made from them ([`openapi`]), the router and its middleware ([`routes`]), and
//! `serve` ([`serve`]). Nothing below imports it.

pub mod config;
pub mod meta;
pub mod openapi;
pub mod operations;
pub mod routes;
pub mod serve;
pub mod state;
