//! The command tree (the CLI contract of product.md).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use qualify_core::PartnerId;
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::{DevToken, Secret, mint_dev_token};

#[derive(Debug, Parser)]
#[command(
    name = "qualify",
    version,
    about = "A self-hostable, Partner Center-compatible customer-qualification service."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the serve settings does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server and its vetting worker.
    ///
    /// Every setting also reads from the environment variable shown and from the `--config`
    /// file; precedence is flag > environment > file > default. A bad value from any of them is
    /// a usage error (exit 2).
    Serve(crate::config::ServeArgs),
    /// Mint a development token (dev auth mode) and print it alone on stdout.
    Token(TokenArgs),
    /// Exit 0 when the server's /readyz answers 200, 1 otherwise (the image's HEALTHCHECK).
    Healthcheck(crate::healthcheck::HealthcheckArgs),
    /// Operator commands against a running server (/admin/v1).
    Admin(crate::admin::AdminArgs),
    /// Client: the partner's customers (through the Rust SDK)
    Customers(crate::client::CustomersArgs),
    /// Client: a customer's qualification requests; `wait` for vetting
    Qualifications(crate::client::QualificationsArgs),
    /// Client: the partner's GCC validation codes
    Validations(crate::client::ValidationsArgs),
    /// Client: a customer's account validation status
    ValidationStatus(crate::client::ValidationStatusArgs),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The partner tenant id (GUID) the token speaks for (`tid`)
    #[arg(long)]
    pub tenant: String,
    /// App-only token (no user, no scp); App+User by default
    #[arg(long)]
    pub app_only: bool,
    /// Carry the operator role Qualify.Admin
    #[arg(long)]
    pub admin: bool,
    /// The user principal name of an App+User token
    #[arg(long)]
    pub upn: Option<String>,
    /// Lifetime, e.g. 1h, 30m
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Must match the server's dev secret
    #[arg(long, env = "QUALIFY_DEV_SECRET", hide_env_values = true)]
    pub dev_secret: Option<String>,
    /// Token audience (must match the server's)
    #[arg(long, env = "QUALIFY_OIDC_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub audience: String,
}

pub fn parse_duration(flag: &str, s: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(s.trim())
        .map_err(|e| anyhow::anyhow!("{flag} {s:?} is not a duration such as 30s or 5m: {e}"))
}

pub fn token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let tenant: PartnerId = args
        .tenant
        .parse()
        .map_err(|_| anyhow::anyhow!("--tenant {:?} is not a GUID", args.tenant))?;
    let ttl = parse_duration("--ttl", &args.ttl)?;
    let secret = Secret::new(args.dev_secret.unwrap_or_else(|| DEFAULT_DEV_SECRET.into()));
    let token = mint_dev_token(
        &DevToken {
            tenant,
            app_only: args.app_only,
            admin: args.admin,
            upn: args.upn,
            ttl,
            audience: args.audience,
        },
        &secret,
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
