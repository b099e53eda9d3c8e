//! The `qualify` command line: `serve`, `token`, `admin` and the client commands.

pub mod admin;
pub mod backup;
pub mod cli;
pub mod client;
pub mod config;
pub mod instance_lock;
pub mod logsink;
pub mod serve;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Token(args) => cli::token(args),
            Command::Admin(args) => admin::run(args).await,
            Command::Customers(args) => Ok(client::customers(args).await),
            Command::Qualifications(args) => Ok(client::qualifications(args).await),
            Command::Validations(args) => Ok(client::validations(args).await),
            Command::ValidationStatus(args) => Ok(client::validation_status(args).await),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
