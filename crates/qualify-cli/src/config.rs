//! `qualify serve`'s configuration: one struct, [`Settings`], declares every setting once — its
//! flag, environment variable, file key, type, default and help — and [`resolve`] layers the
//! sources with precedence flag > environment > config file > default.
//!
//! clap reads the flag, the environment and the default (and `ArgMatches::value_source` says
//! which one gave each value); figment lays the values clap took from a flag or the environment
//! over the TOML file, and the file over clap's defaults. Every value is read from text by its
//! type ([`values::Setting`]), so a bad value is refused the same way from all three sources,
//! as a usage error (exit 2) that names the flag and where the value came from.
//!
//! **Adding a setting** is one field of [`Settings`]:
//!
//! ```ignore
//! /// Help text: what it does (shown by `--help` and in the README's table).
//! #[arg(long, env = "QUALIFY_JOURNAL_SIZE", default_value_t = AtLeast::from(1000usize))]
//! pub journal_size: AtLeast<1>,
//! ```
//!
//! The file key is the field's name (`journal_size`), the flag its kebab-case (`--journal-size`).
//! Use an existing type from [`values`] (durations with a floor, numbers with a floor, choices,
//! lists, `DatabaseUrl`, `ListenAddr`, `DevSecret`) or add one there (implement `Setting` and
//! `Display`, then `setting!(Type)`); a plain `Option<String>` is free text without a default;
//! a `bool` takes `value_parser = SettingParser::<bool>::new()`. A value that may hold a secret
//! takes `hide_env_values = true`, a type whose `Setting::show` hides it, and a case in
//! `show_file_value` (a test checks the last). Then carry the value into
//! `ServerConfig` in [`Settings::into_resolved`], and regenerate the README's table
//! (`QUALIFY_UPDATE_README=1 cargo test -p qualify-cli --lib readme`).

pub mod values;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::LazyLock;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Profile, Provider};
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET, DEFAULT_JWKS_REFRESH};
use qualify_server::{AuthConfig, ServerConfig};
use qualify_store::PgSettings;
use serde::{Deserialize, Serialize};

pub use values::{
    AcademicSuffix, AtLeast, AuthMode, DatabaseUrl, DevSecret, GdapRoleName, HumanDuration, List,
    ListenAddr, LogFormat, Origin, SettingParser, StartClock, Timeout, Vetting,
};

/// The defaults the server library already declares; the settings refer to them rather than
/// repeat them.
static SERVER: LazyLock<ServerConfig> = LazyLock::new(ServerConfig::default);
static PG: LazyLock<PgSettings> = LazyLock::new(PgSettings::default);

/// `qualify serve`'s command line: the config file and the settings.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below, keys as the flag names with underscores
    /// (e.g. `vetting_delay = "5s"`); a flag or environment variable overrides the file
    #[arg(long, env = "QUALIFY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Settings,
}

/// Every setting of `qualify serve`, declared once (see the module's documentation).
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free one. The first line on stdout is
    /// `listening on http://HOST:PORT`
    #[arg(long, env = "QUALIFY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: ListenAddr,
    /// Database: `sqlite://FILE` or a file path (WAL, synchronous=FULL: a 2xx is on disk),
    /// `sqlite::memory:`, or `postgres://...` (several instances may share one)
    #[arg(
        long,
        env = "QUALIFY_DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://qualify.db"
    )]
    pub database: DatabaseUrl,
    /// Token validation: `dev` (HS256 with the dev secret, loopback only) or `oidc`
    /// (RS256/ES256 against a JWKS); both accept 30 s of clock skew
    #[arg(long, env = "QUALIFY_AUTH", default_value_t = AuthMode::Dev)]
    pub auth: AuthMode,
    /// JWKS file or http(s) URL (oidc, required there)
    #[arg(long, env = "QUALIFY_OIDC_JWKS")]
    pub oidc_jwks: Option<String>,
    /// Expected `iss` (oidc, required there); `{tenantid}` stands for the token's `tid`
    #[arg(long, env = "QUALIFY_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// Expected `aud` of tokens
    #[arg(long, env = "QUALIFY_OIDC_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub oidc_audience: String,
    /// Fetch the OIDC JWKS again when the cached copy is this old, so that a key removed from
    /// it stops being accepted
    #[arg(long, env = "QUALIFY_OIDC_JWKS_REFRESH", default_value_t = DEFAULT_JWKS_REFRESH.into())]
    pub oidc_jwks_refresh: HumanDuration<1000>,
    /// Development token secret shared with `qualify token` (default: the well-known dev
    /// secret)
    #[arg(long, env = "QUALIFY_DEV_SECRET", hide_env_values = true,
          default_value = DEFAULT_DEV_SECRET, hide_default_value = true)]
    pub dev_secret: DevSecret,
    /// `true` allows dev auth on a non-loopback address (anyone who knows the dev secret gets
    /// in)
    #[arg(long, env = "QUALIFY_ALLOW_DEV_AUTH_ON_NETWORK", action = clap::ArgAction::Set,
          default_value_t = false, value_parser = SettingParser::<bool>::new())]
    pub allow_dev_auth_on_network: bool,
    /// Vetting policy: `manual` (reviewers decide) or `auto` (rules decide, see docs/vetting.md)
    #[arg(long, env = "QUALIFY_VETTING", default_value_t = SERVER.policy.mode.into())]
    pub vetting: Vetting,
    /// When the decision is taken after the request (scheduled and durable, not slept on)
    #[arg(long, env = "QUALIFY_VETTING_DELAY", default_value_t = SERVER.policy.delay.into())]
    pub vetting_delay: HumanDuration,
    /// Academic domain suffixes of auto vetting, comma-separated; `XX` stands for any two
    /// letters
    #[arg(long, env = "QUALIFY_ACADEMIC_SUFFIXES", default_value_t = AcademicSuffix::defaults())]
    pub academic_suffixes: List<AcademicSuffix>,
    /// GDAP roles a new customer starts with, comma-separated
    #[arg(long, env = "QUALIFY_DEFAULT_GDAP_ROLES",
          default_value_t = SERVER.default_gdap_roles.iter().copied().collect())]
    pub default_gdap_roles: List<GdapRoleName>,
    /// Requests per minute per partner tenant; 0 turns throttling off
    #[arg(long, env = "QUALIFY_RATE_LIMIT_PER_MINUTE",
          default_value_t = SERVER.rate_limit_per_minute.into())]
    pub rate_limit_per_minute: AtLeast<0>,
    /// How long a worker holds a claimed vetting job before another may take it
    #[arg(long, env = "QUALIFY_JOB_LEASE", default_value_t = SERVER.job_lease.into())]
    pub job_lease: Timeout,
    /// A request that takes longer is answered 503 with Retry-After
    #[arg(long, env = "QUALIFY_REQUEST_TIMEOUT", default_value_t = SERVER.request_timeout.into())]
    pub request_timeout: Timeout,
    /// Time a client has to send a request's headers; also how long an idle keep-alive
    /// connection is kept
    #[arg(long, env = "QUALIFY_HEADER_READ_TIMEOUT",
          default_value_t = SERVER.header_read_timeout.into())]
    pub header_read_timeout: Timeout,
    /// Time a client has to send a request's whole body; 408 after that
    #[arg(long, env = "QUALIFY_BODY_READ_TIMEOUT",
          default_value_t = SERVER.body_read_timeout.into())]
    pub body_read_timeout: Timeout,
    /// Largest request head (request line and headers) in bytes; larger heads get 431
    #[arg(long, env = "QUALIFY_MAX_HEADER_BYTES", default_value_t = SERVER.max_header_bytes.into())]
    pub max_header_bytes: AtLeast<8192>,
    /// Connections served at once; past it a new one closes the oldest connection not in a
    /// request (silent, slow to send its head, or idle between requests)
    #[arg(long, env = "QUALIFY_MAX_CONNECTIONS", default_value_t = SERVER.max_connections.into())]
    pub max_connections: AtLeast<1>,
    /// Requests handled at once; more get 503 with Retry-After
    #[arg(long, env = "QUALIFY_MAX_IN_FLIGHT", default_value_t = SERVER.max_in_flight.into())]
    pub max_in_flight: AtLeast<1>,
    /// Event streams (GET /admin/v1/events) served at once, apart from --max-in-flight; more get
    /// 503 with Retry-After and the connection closed
    #[arg(long, env = "QUALIFY_MAX_STREAMS", default_value_t = SERVER.max_streams.into())]
    pub max_streams: AtLeast<1>,
    /// Entries of the in-memory request journal of `/v1` requests
    /// (docs/testing.md#the-request-journal), all partners' rings together, the largest ring's
    /// oldest evicted first; 0 turns it off
    #[arg(long, env = "QUALIFY_JOURNAL_SIZE", default_value_t = SERVER.journal_size.into())]
    pub journal_size: AtLeast<0>,
    /// Prometheus metrics at `GET /metrics` (docs/metrics.md); `false` records nothing and the
    /// route answers 404
    #[arg(long, env = "QUALIFY_METRICS", action = clap::ArgAction::Set,
          default_value_t = SERVER.metrics, value_parser = SettingParser::<bool>::new())]
    pub metrics: bool,
    /// PostgreSQL: connections per instance
    #[arg(long, env = "QUALIFY_PG_MAX_CONNECTIONS", default_value_t = PG.max_connections.into())]
    pub pg_max_connections: AtLeast<1>,
    /// PostgreSQL: server-side bound on one statement (`statement_timeout`)
    #[arg(long, env = "QUALIFY_PG_STATEMENT_TIMEOUT",
          default_value_t = PG.statement_timeout.into())]
    pub pg_statement_timeout: HumanDuration,
    /// Log format on stderr: `text` or `json`; the level comes from `QUALIFY_LOG` (e.g. `debug`)
    #[arg(long, env = "QUALIFY_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The base URL of webhook events' `ResourceUri`/`AuditUri` and the certificate URL
    /// (docs/webhooks.md#the-event); default `http://` and the address of the `listening on`
    /// line
    #[arg(long, env = "QUALIFY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `true` lets webhooks target loopback, private, link-local and metadata addresses with
    /// `--auth oidc` (always allowed with `--auth dev`)
    #[arg(long, env = "QUALIFY_WEBHOOK_ALLOW_PRIVATE", action = clap::ArgAction::Set,
          default_value_t = false, value_parser = SettingParser::<bool>::new())]
    pub webhook_allow_private: bool,
    /// A fixture document (docs/fixtures.schema.json) applied at start-up, once per database and
    /// document; a reset goes back to it. `/readyz` answers 200 only after it was applied
    #[arg(long, env = "QUALIFY_SEED")]
    pub seed: Option<String>,
    /// `frozen:T` starts the global clock frozen at the RFC 3339 instant T
    /// (docs/testing.md#advancing-time)
    #[arg(long, env = "QUALIFY_CLOCK")]
    pub clock: Option<StartClock>,
    /// The test values `approved.test`, `denied.test`, `review.test` decide requests
    /// (docs/testing.md#test-values); default `true` with `--auth dev`, `false` with `--auth oidc`
    #[arg(long, env = "QUALIFY_TEST_VALUES", action = clap::ArgAction::Set,
          value_parser = SettingParser::<bool>::new())]
    pub test_values: Option<bool>,
    /// How long a clock advance may run the due work before it answers 503 with what it applied
    #[arg(long, env = "QUALIFY_ADVANCE_TIMEOUT", default_value_t = SERVER.advance_timeout.into())]
    pub advance_timeout: Timeout,
}

/// What `serve` runs with.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub listen: SocketAddr,
    /// `--seed`: the fixture document applied at start-up.
    pub seed: Option<PathBuf>,
    pub database: DatabaseUrl,
    pub json_logs: bool,
    pub postgres: PgSettings,
    pub server: ServerConfig,
}

/// A bad configuration: `qualify serve` prints it after `error: ` and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Where each setting's value came from.
struct Origins {
    /// The keys clap took from a flag or the environment, with that origin.
    given: Vec<(String, Origin)>,
    /// The keys the config file sets, and the file as given.
    file: Option<(String, BTreeSet<String>)>,
}

impl Origins {
    fn of(&self, key: &str) -> Origin {
        if let Some((_, o)) = self.given.iter().find(|(k, _)| k == key) {
            return o.clone();
        }
        match &self.file {
            Some((path, keys)) if keys.contains(key) => Origin::File(path.clone(), key.into()),
            _ => Origin::Default,
        }
    }
}

fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// A `serve` setting as clap declares it.
fn arg_of(key: &str) -> Option<clap::Arg> {
    ServeArgs::augment_args(clap::Command::new("serve"))
        .get_arguments()
        .find(|a| a.get_id() == key)
        .cloned()
}

/// The environment variable of a `serve` setting.
fn env_of(key: &str) -> String {
    arg_of(key)
        .and_then(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

fn origin_from_source(key: &str, source: Option<ValueSource>) -> Option<Origin> {
    match source? {
        ValueSource::CommandLine => Some(Origin::CommandLine),
        ValueSource::EnvVariable => Some(Origin::Env(env_of(key))),
        _ => None,
    }
}

/// The settings of `serve`'s arguments, with the config file laid between the values given
/// (flags, environment) and the defaults; `matches` are `serve`'s, which tell them apart.
pub fn resolve(args: &ServeArgs, matches: &ArgMatches) -> Result<Resolved, UsageError> {
    let clap_values = match Value::serialize(&args.settings) {
        Ok(Value::Dict(_, dict)) => dict,
        other => unreachable!("the settings serialise to a dictionary: {other:?}"),
    };
    let (mut given, mut defaults) = (Dict::new(), Dict::new());
    let mut origins = Origins {
        given: vec![],
        file: None,
    };
    for (key, value) in clap_values {
        match origin_from_source(&key, matches.value_source(&key)) {
            Some(origin) => {
                origins.given.push((key.clone(), origin));
                given.insert(key, value);
            }
            None => {
                defaults.insert(key, value);
            }
        }
    }
    let mut figment = Figment::from(Serialized::defaults(defaults));
    if let Some(path) = &args.config {
        let shown = path.display().to_string();
        if !path.is_file() {
            let origin = origin_from_source("config", matches.value_source("config"))
                .unwrap_or(Origin::Default);
            return Err(UsageError(format!(
                "the config file {shown} (--config, {origin}) does not exist"
            )));
        }
        let toml = Toml::file_exact(path);
        let data = toml.data().map_err(|e| {
            UsageError(format!(
                "the config file {shown} is not valid TOML: {}",
                e.kind
            ))
        })?;
        let keys = data
            .get(&Profile::Default)
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default();
        origins.file = Some((shown, keys));
        figment = figment.merge(toml);
    }
    let figment = figment.merge(Serialized::defaults(given));
    let settings: Settings = figment
        .extract()
        .map_err(|e| extraction_error(e, &figment, &origins))?;
    settings.into_resolved(&origins)
}

/// A value figment could not take (only the file's can fail: clap has read the others).
fn extraction_error(e: figment::Error, figment: &Figment, origins: &Origins) -> UsageError {
    use figment::error::Kind;
    let file = origins
        .file
        .as_ref()
        .map(|(p, _)| p.as_str())
        .unwrap_or("the config file");
    if let Kind::UnknownField(key, known) = &e.kind {
        return UsageError(format!(
            "unknown key {key} in {file}; the keys are the serve flags with underscores: {}",
            known.join(", ")
        ));
    }
    let Some(key) = e.path.first().cloned() else {
        return UsageError(format!("{file}: {}", e.kind));
    };
    // The value at the error's path: the key, then an index into a list.
    let mut value = figment.find_value(&key).ok();
    for step in &e.path[1..] {
        value = match (value, step.parse::<usize>()) {
            (Some(Value::Array(_, items)), Ok(i)) => items.into_iter().nth(i),
            (other, _) => other,
        };
    }
    let text = match value {
        Some(Value::String(_, s)) => s,
        Some(v) => serde_json::to_string(&v).unwrap_or_default(),
        None => String::new(),
    };
    let shown = show_file_value(&key, &text);
    let reason = match &e.kind {
        Kind::Message(m) => m.clone(),
        Kind::InvalidType(actual, expected) => format!("expected {expected}, found {actual}"),
        other => other.to_string(),
    };
    UsageError(values::invalid_value(
        &shown,
        &flag(&key),
        &origins.of(&key),
        &reason,
    ))
}

/// A value of the file as an error shows it: secrets as their type shows them.
fn show_file_value(key: &str, text: &str) -> String {
    use values::Setting;
    match key {
        "dev_secret" => DevSecret::show(text),
        "database" => DatabaseUrl::show(text),
        _ => format!("{text:?}"),
    }
}

impl Settings {
    /// The checks that span settings, and the conversion into what `serve` needs.
    fn into_resolved(self, origins: &Origins) -> Result<Resolved, UsageError> {
        let audience = self.oidc_audience;
        let auth = match self.auth {
            AuthMode::Dev => AuthConfig::Dev {
                secret: self.dev_secret.0,
                audience,
            },
            AuthMode::Oidc => {
                let needs = |key: &str, what: &str| {
                    UsageError(format!(
                        "--auth oidc ({}) needs {} ({what})",
                        origins.of("auth"),
                        flag(key)
                    ))
                };
                AuthConfig::Oidc {
                    jwks: self
                        .oidc_jwks
                        .ok_or_else(|| needs("oidc_jwks", "a JWKS file or URL"))?,
                    issuer: self
                        .oidc_issuer
                        .ok_or_else(|| needs("oidc_issuer", "the tokens' expected iss"))?,
                    audience,
                    jwks_refresh: self.oidc_jwks_refresh.get(),
                }
            }
        };
        let listen = self.listen.0;
        let public_url = match self.public_url {
            None => None,
            Some(url) => {
                let parsed = url::Url::parse(&url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                if parsed.is_none() {
                    return Err(UsageError(format!(
                        "{url:?} is not an absolute http(s) URL, invalid for --public-url ({})",
                        origins.of("public_url")
                    )));
                }
                Some(url.trim_end_matches('/').to_owned())
            }
        };
        if self.auth == AuthMode::Dev
            && !listen.ip().is_loopback()
            && !self.allow_dev_auth_on_network
        {
            return Err(UsageError(format!(
                "dev auth accepts tokens signed with a well-known secret; refusing to listen on the \
                 non-loopback address {listen} (--listen, {}). Use --auth oidc, or pass \
                 --allow-dev-auth-on-network true if you really mean it",
                origins.of("listen")
            )));
        }
        if let Some(seed) = &self.seed {
            let path = std::path::Path::new(seed);
            if !path.is_file() {
                let what = if path.exists() {
                    "is not a file"
                } else {
                    "does not exist"
                };
                return Err(UsageError(format!(
                    "the fixture document {seed} (--seed, {}) {what}",
                    origins.of("seed")
                )));
            }
        }
        database_folder_exists(&self.database, &origins.of("database"))?;
        Ok(Resolved {
            listen,
            database: self.database,
            json_logs: self.log_format == LogFormat::Json,
            postgres: PgSettings {
                max_connections: self.pg_max_connections.as_u32(),
                statement_timeout: self.pg_statement_timeout.get(),
            },
            server: ServerConfig {
                auth,
                policy: qualify_core::policy::VettingPolicy {
                    mode: self.vetting.into(),
                    delay: self.vetting_delay.get(),
                    academic_suffixes: self.academic_suffixes.0.into_iter().map(|s| s.0).collect(),
                    // An operator running real vetting must not let a partner approve itself.
                    test_values: self.test_values.unwrap_or(self.auth == AuthMode::Dev),
                },
                rate_limit_per_minute: self.rate_limit_per_minute.as_u32(),
                default_gdap_roles: self.default_gdap_roles.0.into_iter().map(|r| r.0).collect(),
                job_lease: self.job_lease.get(),
                request_timeout: self.request_timeout.get(),
                header_read_timeout: self.header_read_timeout.get(),
                body_read_timeout: self.body_read_timeout.get(),
                max_header_bytes: self.max_header_bytes.as_usize(),
                max_connections: self.max_connections.as_usize(),
                max_in_flight: self.max_in_flight.as_usize(),
                max_streams: self.max_streams.as_usize(),
                advance_timeout: self.advance_timeout.get(),
                start_clock: self.clock.map(|c| c.0),
                journal_size: self.journal_size.as_usize(),
                metrics: self.metrics,
                public_url,
                webhook_allow_private: self.webhook_allow_private || self.auth == AuthMode::Dev,
                webhook_timeout: SERVER.webhook_timeout,
                // Not a setting.
                shutdown_grace: SERVER.shutdown_grace,
            },
            seed: self.seed.map(PathBuf::from),
        })
    }
}

/// A SQLite file may be created, but not its folder: a missing one is named here rather than
/// found by the first file opened in it (the lock file).
fn database_folder_exists(database: &DatabaseUrl, origin: &Origin) -> Result<(), UsageError> {
    let DatabaseUrl::Sqlite(url) = database else {
        return Ok(());
    };
    // A URL the store cannot read is refused by it, with its reason.
    let Ok(Some(file)) = qualify_store::sqlite::database_file(url) else {
        return Ok(());
    };
    let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) else {
        return Ok(());
    };
    if folder.is_dir() {
        return Ok(());
    }
    let what = if folder.exists() {
        "is not a folder"
    } else {
        "does not exist"
    };
    Err(UsageError(format!(
        "the folder {} of the database file {} (--database, {origin}) {what}; create it first, \
         or name a file in an existing folder",
        folder.display(),
        file.display()
    )))
}

#[cfg(test)]
mod tests;
