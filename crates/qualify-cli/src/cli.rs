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

// Parsed once per process: the size of the serve flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server and its vetting worker.
    Serve(ServeArgs),
    /// Mint a development token (dev auth mode) and print it alone on stdout.
    Token(TokenArgs),
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

/// Every flag also reads from the environment and from the config file; precedence is
/// flag > environment > file > default.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8080]
    #[arg(long, env = "QUALIFY_LISTEN")]
    pub listen: Option<String>,
    /// Database URL: sqlite://qualify.db (default), sqlite::memory:, a file path, or postgres://...
    #[arg(long, env = "QUALIFY_DATABASE_URL")]
    pub database: Option<String>,
    /// TOML config file (keys as the long flags, with underscores)
    #[arg(long, env = "QUALIFY_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Token validation: dev (HS256, dev secret) or oidc (RS256/ES256 against a JWKS) [default: dev]
    #[arg(long, env = "QUALIFY_AUTH", value_parser = ["dev", "oidc"])]
    pub auth: Option<String>,
    /// JWKS file or http(s) URL (oidc mode)
    #[arg(long, env = "QUALIFY_OIDC_JWKS")]
    pub oidc_jwks: Option<String>,
    /// Expected token issuer (oidc mode); `{tenantid}` stands for the token's tid
    #[arg(long, env = "QUALIFY_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// Expected token audience [default: https://api.partnercenter.microsoft.com]
    #[arg(long, env = "QUALIFY_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// Vetting policy: manual (reviewers decide) or auto (rules decide) [default: manual]
    #[arg(long, env = "QUALIFY_VETTING", value_parser = ["manual", "auto"])]
    pub vetting: Option<String>,
    /// Delay before a vetting decision is taken, e.g. 0s, 30s, 5m [default: 0s]
    #[arg(long, env = "QUALIFY_VETTING_DELAY")]
    pub vetting_delay: Option<String>,
    /// Requests per minute per partner tenant; 0 turns throttling off [default: 500]
    #[arg(long, env = "QUALIFY_RATE_LIMIT_PER_MINUTE")]
    pub rate_limit_per_minute: Option<u32>,
    /// Development token secret shared with `qualify token` [default: the well-known dev secret]
    #[arg(long, env = "QUALIFY_DEV_SECRET", hide_env_values = true)]
    pub dev_secret: Option<String>,
    /// Academic domain suffixes for auto vetting, comma-separated; XX = any two letters
    /// [default: .edu,.edu.XX,.ac.XX,.k12.XX.us,.sch.uk,.school.nz,.schule]
    #[arg(long, env = "QUALIFY_ACADEMIC_SUFFIXES", value_delimiter = ',')]
    pub academic_suffixes: Option<Vec<String>>,
    /// GDAP roles a new customer starts with, comma-separated [default: Directory Reader]
    #[arg(long, env = "QUALIFY_DEFAULT_GDAP_ROLES", value_delimiter = ',')]
    pub default_gdap_roles: Option<Vec<String>>,
    /// Allow dev auth on a non-loopback address (anyone who knows the dev secret gets in)
    #[arg(long, env = "QUALIFY_ALLOW_DEV_AUTH_ON_NETWORK")]
    pub allow_dev_auth_on_network: Option<bool>,
    /// How long a worker holds a claimed vetting job before another may take it [default: 30s]
    #[arg(long, env = "QUALIFY_JOB_LEASE")]
    pub job_lease: Option<String>,
    /// PostgreSQL: connections per instance [default: 16]
    #[arg(long, env = "QUALIFY_PG_MAX_CONNECTIONS")]
    pub pg_max_connections: Option<u32>,
    /// PostgreSQL: server-side bound on one statement, e.g. 30s [default: 30s]
    #[arg(long, env = "QUALIFY_PG_STATEMENT_TIMEOUT")]
    pub pg_statement_timeout: Option<String>,
    /// Fetch the OIDC JWKS again when the cached copy is this old, so that a key removed from it
    /// stops being accepted [default: 1h]
    #[arg(long, env = "QUALIFY_OIDC_JWKS_REFRESH")]
    pub oidc_jwks_refresh: Option<String>,
    /// A request that takes longer is answered 503 with Retry-After [default: 30s]
    #[arg(long, env = "QUALIFY_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,
    /// Time a client has to send a request's headers; also how long an idle keep-alive
    /// connection is kept [default: 15s]
    #[arg(long, env = "QUALIFY_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<String>,
    /// Time a client has to send a request's whole body; 408 after that [default: 20s]
    #[arg(long, env = "QUALIFY_BODY_READ_TIMEOUT")]
    pub body_read_timeout: Option<String>,
    /// Largest request head (request line and headers) in bytes, at least 8192; larger heads
    /// get 431 [default: 65536]
    #[arg(long, env = "QUALIFY_MAX_HEADER_BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Connections served at once; more wait in the listen backlog [default: 1024]
    #[arg(long, env = "QUALIFY_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Requests handled at once; more get 503 with Retry-After [default: 512]
    #[arg(long, env = "QUALIFY_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Log format: text or json [default: text]
    #[arg(long, env = "QUALIFY_LOG_FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
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
