//! One typed configuration from defaults, the config file, the environment and flags
//! (precedence flag > environment > file > default). clap folds flags and environment into one
//! value per setting; figment lays those over the file. Bad values fail at start-up with a clear
//! message.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use qualify_core::policy::{DEFAULT_ACADEMIC_SUFFIXES, VettingMode, VettingPolicy};
use qualify_core::validation::GdapRole;
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::{AuthConfig, Secret, ServerConfig};
use qualify_store::PgSettings;
use serde::{Deserialize, Serialize};

use crate::cli::{ServeArgs, parse_duration};

/// The settings as they may appear in the file; every key optional.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub auth: Option<String>,
    pub oidc_jwks: Option<String>,
    pub oidc_issuer: Option<String>,
    pub oidc_audience: Option<String>,
    pub vetting: Option<String>,
    pub vetting_delay: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
    pub dev_secret: Option<String>,
    pub academic_suffixes: Option<Vec<String>>,
    pub default_gdap_roles: Option<Vec<String>>,
    pub allow_dev_auth_on_network: Option<bool>,
    pub log_format: Option<String>,
    pub pg_max_connections: Option<u32>,
    pub pg_statement_timeout: Option<String>,
    pub job_lease: Option<String>,
    pub oidc_jwks_refresh: Option<String>,
    pub request_timeout: Option<String>,
    pub header_read_timeout: Option<String>,
    pub body_read_timeout: Option<String>,
    pub max_header_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_in_flight: Option<usize>,
}

impl From<&ServeArgs> for Settings {
    fn from(a: &ServeArgs) -> Self {
        Settings {
            listen: a.listen.clone(),
            database: a.database.clone(),
            auth: a.auth.clone(),
            oidc_jwks: a.oidc_jwks.clone(),
            oidc_issuer: a.oidc_issuer.clone(),
            oidc_audience: a.oidc_audience.clone(),
            vetting: a.vetting.clone(),
            vetting_delay: a.vetting_delay.clone(),
            rate_limit_per_minute: a.rate_limit_per_minute,
            dev_secret: a.dev_secret.clone(),
            academic_suffixes: a.academic_suffixes.clone(),
            default_gdap_roles: a.default_gdap_roles.clone(),
            allow_dev_auth_on_network: a.allow_dev_auth_on_network,
            log_format: a.log_format.clone(),
            pg_max_connections: a.pg_max_connections,
            pg_statement_timeout: a.pg_statement_timeout.clone(),
            job_lease: a.job_lease.clone(),
            oidc_jwks_refresh: a.oidc_jwks_refresh.clone(),
            request_timeout: a.request_timeout.clone(),
            header_read_timeout: a.header_read_timeout.clone(),
            body_read_timeout: a.body_read_timeout.clone(),
            max_header_bytes: a.max_header_bytes,
            max_connections: a.max_connections,
            max_in_flight: a.max_in_flight,
        }
    }
}

/// What `serve` runs with.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub listen: String,
    pub database: String,
    pub allow_dev_auth_on_network: bool,
    pub json_logs: bool,
    pub postgres: PgSettings,
    pub server: ServerConfig,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "sqlite://qualify.db";

pub fn resolve(args: &ServeArgs) -> anyhow::Result<Resolved> {
    let mut figment = Figment::new();
    if let Some(path) = &args.config {
        if !Path::new(path).exists() {
            bail!("the config file {} does not exist", path.display());
        }
        figment = figment.merge(Toml::file(path));
    }
    // `None` values of the command line must not hide the file's: serialise only what is set.
    let cli = serde_json::to_value(Settings::from(args))?;
    let cli: serde_json::Map<String, serde_json::Value> = cli
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let s: Settings = figment
        .merge(Serialized::defaults(cli))
        .extract()
        .context("invalid configuration")?;
    settings_to_config(s)
}

fn settings_to_config(s: Settings) -> anyhow::Result<Resolved> {
    let audience = s.oidc_audience.unwrap_or_else(|| DEFAULT_AUDIENCE.into());
    let auth = match s.auth.as_deref().unwrap_or("dev") {
        "dev" => AuthConfig::Dev {
            secret: Secret::new(s.dev_secret.unwrap_or_else(|| DEFAULT_DEV_SECRET.into())),
            audience,
        },
        "oidc" => AuthConfig::Oidc {
            jwks: s
                .oidc_jwks
                .context("--oidc-jwks (a JWKS file or URL) is required with --auth oidc")?,
            issuer: s
                .oidc_issuer
                .context("--oidc-issuer is required with --auth oidc")?,
            audience,
            jwks_refresh: match s.oidc_jwks_refresh.as_deref() {
                None => qualify_server::auth::DEFAULT_JWKS_REFRESH,
                Some(d) => at_least("--oidc-jwks-refresh", d, Duration::from_secs(1))?,
            },
        },
        other => bail!("--auth {other:?} is not dev or oidc"),
    };
    let mode = match s.vetting.as_deref() {
        None => VettingMode::Manual,
        Some(v) => VettingMode::parse(v)
            .with_context(|| format!("--vetting {v:?} is not manual or auto"))?,
    };
    let delay = match s.vetting_delay.as_deref() {
        None => std::time::Duration::ZERO,
        Some(d) => parse_duration("--vetting-delay", d)?,
    };
    let academic_suffixes = match s.academic_suffixes {
        None => DEFAULT_ACADEMIC_SUFFIXES
            .iter()
            .map(|x| x.to_string())
            .collect(),
        Some(list) => {
            let list: Vec<String> = list
                .into_iter()
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect();
            for x in &list {
                if !x.starts_with('.') || x.len() < 2 || x.contains("..") {
                    bail!("academic suffix {x:?} must look like .edu or .ac.XX");
                }
            }
            list
        }
    };
    let default_gdap_roles = match s.default_gdap_roles {
        None => vec![GdapRole::DirectoryReader],
        Some(list) => list
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .map(|r| GdapRole::parse(r).with_context(|| format!("GDAP role {r:?} is not known")))
            .collect::<anyhow::Result<_>>()?,
    };
    let json_logs = match s.log_format.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => bail!("--log-format {other:?} is not text or json"),
    };
    let transport = ServerConfig::default();
    let duration_or = |flag: &str, value: Option<&str>, default: Duration| match value {
        None => Ok(default),
        Some(d) => at_least(flag, d, Duration::from_millis(100)),
    };
    let request_timeout = duration_or(
        "--request-timeout",
        s.request_timeout.as_deref(),
        transport.request_timeout,
    )?;
    let header_read_timeout = duration_or(
        "--header-read-timeout",
        s.header_read_timeout.as_deref(),
        transport.header_read_timeout,
    )?;
    let body_read_timeout = duration_or(
        "--body-read-timeout",
        s.body_read_timeout.as_deref(),
        transport.body_read_timeout,
    )?;
    let max_header_bytes = s.max_header_bytes.unwrap_or(transport.max_header_bytes);
    if max_header_bytes < 8192 {
        bail!("--max-header-bytes must be at least 8192");
    }
    let max_connections = s.max_connections.unwrap_or(transport.max_connections);
    let max_in_flight = s.max_in_flight.unwrap_or(transport.max_in_flight);
    if max_connections == 0 || max_in_flight == 0 {
        bail!("--max-connections and --max-in-flight must be at least 1");
    }
    let defaults = PgSettings::default();
    let postgres = PgSettings {
        max_connections: s.pg_max_connections.unwrap_or(defaults.max_connections),
        statement_timeout: match s.pg_statement_timeout.as_deref() {
            None => defaults.statement_timeout,
            Some(t) => parse_duration("--pg-statement-timeout", t)?,
        },
    };
    Ok(Resolved {
        postgres,
        listen: s.listen.unwrap_or_else(|| DEFAULT_LISTEN.into()),
        database: s.database.unwrap_or_else(|| DEFAULT_DATABASE.into()),
        allow_dev_auth_on_network: s.allow_dev_auth_on_network.unwrap_or(false),
        json_logs,
        server: ServerConfig {
            auth,
            policy: VettingPolicy {
                mode,
                delay,
                academic_suffixes,
            },
            rate_limit_per_minute: s.rate_limit_per_minute.unwrap_or(500),
            default_gdap_roles,
            job_lease: match s.job_lease.as_deref() {
                None => ServerConfig::default().job_lease,
                Some(l) => parse_duration("--job-lease", l).and_then(|d| {
                    if d < std::time::Duration::from_millis(100) {
                        bail!("--job-lease must be at least 100ms")
                    }
                    Ok(d)
                })?,
            },
            request_timeout,
            header_read_timeout,
            body_read_timeout,
            max_header_bytes,
            max_connections,
            max_in_flight,
            ..ServerConfig::default()
        },
    })
}

/// A duration flag with a floor (a zero timeout would refuse everything).
fn at_least(flag: &str, value: &str, min: Duration) -> anyhow::Result<Duration> {
    let d = parse_duration(flag, value)?;
    if d < min {
        bail!(
            "{flag} must be at least {}",
            humantime::format_duration(min)
        );
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let r = resolve(&ServeArgs::default()).unwrap();
        assert_eq!(r.listen, DEFAULT_LISTEN);
        assert_eq!(r.database, DEFAULT_DATABASE);
        assert_eq!(r.server.rate_limit_per_minute, 500);
        assert_eq!(r.server.policy.mode, VettingMode::Manual);
        assert!(matches!(r.server.auth, AuthConfig::Dev { .. }));
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("qualify.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9999\"\nvetting = \"auto\"\nrate_limit_per_minute = 7\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            rate_limit_per_minute: Some(9),
            ..Default::default()
        };
        let r = resolve(&args).unwrap();
        assert_eq!(r.listen, "127.0.0.1:9999");
        assert_eq!(r.server.policy.mode, VettingMode::Auto);
        assert_eq!(r.server.rate_limit_per_minute, 9);
    }

    #[test]
    fn transport_limits_are_read_and_checked() {
        let r = resolve(&ServeArgs {
            request_timeout: Some("5s".into()),
            header_read_timeout: Some("2s".into()),
            max_connections: Some(7),
            oidc_jwks_refresh: Some("10m".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.server.request_timeout, Duration::from_secs(5));
        assert_eq!(r.server.header_read_timeout, Duration::from_secs(2));
        assert_eq!(r.server.max_connections, 7);
        let bad = |a: ServeArgs| resolve(&a).unwrap_err().to_string();
        assert!(
            bad(ServeArgs {
                max_header_bytes: Some(100),
                ..Default::default()
            })
            .contains("--max-header-bytes")
        );
        assert!(
            bad(ServeArgs {
                header_read_timeout: Some("0s".into()),
                ..Default::default()
            })
            .contains("--header-read-timeout")
        );
        assert!(
            bad(ServeArgs {
                max_in_flight: Some(0),
                ..Default::default()
            })
            .contains("--max-in-flight")
        );
    }

    #[test]
    fn bad_values_fail_with_a_message() {
        let bad = |a: ServeArgs| resolve(&a).unwrap_err().to_string();
        assert!(
            bad(ServeArgs {
                vetting_delay: Some("soon".into()),
                ..Default::default()
            })
            .contains("--vetting-delay")
        );
        assert!(
            bad(ServeArgs {
                auth: Some("oidc".into()),
                ..Default::default()
            })
            .contains("--oidc-jwks")
        );
        assert!(
            bad(ServeArgs {
                default_gdap_roles: Some(vec!["Global Admin".into()]),
                ..Default::default()
            })
            .contains("GDAP")
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "no_such_key = 1\n").unwrap();
        assert!(
            resolve(&ServeArgs {
                config: Some(file),
                ..Default::default()
            })
            .is_err()
        );
    }
}
