//! The `qualify` command line: `serve`, `token`, `admin` and the client commands.

// Everything printed goes through `out` (`outln!`, `errln!`): a closed stdout ends a command
// quietly instead of panicking.
#![deny(clippy::print_stdout, clippy::print_stderr)]

// First, so that its macros are in scope in the modules below.
#[macro_use]
pub mod out;

pub mod admin;
pub mod backup;
pub mod cli;
pub mod client;
pub mod config;
pub mod control;
pub mod flags;
pub mod healthcheck;
pub mod instance_lock;
pub mod remote;
pub mod render;
pub mod serve;
pub mod traffic;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};

/// The exit code of a usage error (clap's too).
const USAGE: u8 = 2;

pub fn main() -> ExitCode {
    // clap prints its own usage errors (a bad value of a flag or an environment variable
    // included) and exits 2.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // `serve`'s settings are resolved (the config file laid in) before anything starts.
    let serve = match &cli.command {
        Command::Serve(args) => {
            let serve_matches = matches
                .subcommand_matches("serve")
                .expect("the serve subcommand was parsed");
            match config::resolve(args, serve_matches) {
                Ok(resolved) => Some(resolved),
                Err(e) => {
                    errln!("error: {e}");
                    return ExitCode::from(USAGE);
                }
            }
        }
        _ => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(_) => serve::run(serve.expect("resolved above")).await,
            Command::Token(args) => cli::token(args),
            Command::Healthcheck(args) => healthcheck::run(args).await,
            Command::Admin(args) => admin::run(args).await,
            Command::Customers(args) => Ok(client::customers(args).await),
            Command::Qualifications(args) => Ok(client::qualifications(args).await),
            Command::Validations(args) => Ok(client::validations(args).await),
            Command::ValidationStatus(args) => Ok(client::validation_status(args).await),
        }
    });
    match result {
        Ok(code) => code,
        // The reader of stdout went away (`qualify token | head -c 10`): it has what it wanted.
        Err(e) if out::reader_gone(&e) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
