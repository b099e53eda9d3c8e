//! What every command that calls a running server through the Rust SDK shares (the client
//! commands and `qualify admin`): the connection flags, the exit codes, how a failure is
//! reported, and typed values for the flags that take one of the API's enum values.
//!
//! Exit codes: 0 success; 1 the API answered with an error; 2 usage error; 3 the server could
//! not be reached, timed out or gave an unreadable answer; 4 `qualifications wait` timed out.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use qualify_client::{
    AccountStatus, Client, DeliveryStatus, EducationSegment, Error, ErrorCategory, GdapRole,
    Qualification, ValidationType, VettingStatus,
};

use crate::out::StdoutError;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The API answered with an error (4xx/5xx); the error is on stderr.
pub const EXIT_API_ERROR: u8 = 1;
/// Usage error: bad flags or values (clap uses 2 as well).
pub const EXIT_USAGE: u8 = 2;
/// The server could not be reached, timed out, or gave an answer that could not be read.
pub const EXIT_TRANSPORT: u8 = 3;
/// `qualifications wait` reached its `--timeout` before vetting finished.
pub const EXIT_WAIT_TIMEOUT: u8 = 4;

/// Where the server is, how to call it and how to print; shared by every command that calls a
/// server. The credential is not here: each family of commands says where its own comes from.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection and output")]
pub struct ConnectionArgs {
    /// The server's base URL
    #[arg(
        long,
        env = "QUALIFY_BASE_URL",
        default_value = qualify_client::DEFAULT_BASE_URL,
        global = true
    )]
    pub base_url: String,
    /// Print JSON (the API's camelCase shapes) instead of tables; errors go to stderr as JSON
    #[arg(long, global = true)]
    pub json: bool,
    /// Time one HTTP attempt may take, e.g. 30s
    #[arg(long, default_value = "30s", global = true, value_parser = crate::flags::duration)]
    pub request_timeout: Duration,
    /// Attempts per call (retries on 429, 5xx and connection errors; 1 turns retries off)
    #[arg(long, default_value_t = 4, global = true)]
    pub max_attempts: u32,
}

impl ConnectionArgs {
    /// An SDK client for these settings, calling with `token`.
    pub fn connect(&self, token: String) -> Result<Client, Failure> {
        Ok(Client::builder()
            .base_url(&self.base_url)
            .token(token)
            .timeout(self.request_timeout)
            .max_attempts(self.max_attempts)
            .application_name("qualify-cli")
            .build()?)
    }
}

/// A failure of a command, already mapped to its exit code. One with exit 0 is the end of a
/// command whose reader went away (see `crate::out`): nothing is reported.
pub struct Failure {
    pub exit: u8,
    pub message: String,
    pub error: Option<Error>,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: EXIT_USAGE,
            message: message.into(),
            error: None,
        }
    }

    /// The server's answers leave nothing to do (e.g. no request to wait for or to decide),
    /// though no call failed: exit 1 like an API error.
    pub fn api(message: impl Into<String>) -> Self {
        Self {
            exit: EXIT_API_ERROR,
            message: message.into(),
            error: None,
        }
    }
}

impl From<StdoutError> for Failure {
    fn from(e: StdoutError) -> Self {
        if e.reader_gone() {
            return Self {
                exit: EXIT_OK,
                message: String::new(),
                error: None,
            };
        }
        Self::api(e.to_string())
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let exit = match e.category() {
            ErrorCategory::WaitTimedOut => EXIT_WAIT_TIMEOUT,
            ErrorCategory::Transport | ErrorCategory::InvalidResponse => EXIT_TRANSPORT,
            ErrorCategory::Configuration => EXIT_USAGE,
            _ => EXIT_API_ERROR,
        };
        Self {
            exit,
            message: e.to_string(),
            error: Some(e),
        }
    }
}

/// The error on stderr: one line for people, one JSON object with `--json`.
pub fn report(failure: &Failure, json: bool) -> ExitCode {
    if failure.exit == EXIT_OK {
        return ExitCode::SUCCESS;
    }
    if json {
        let e = failure.error.as_ref();
        let body = serde_json::json!({
            "error": failure.message,
            "category": e.map(|e| format!("{:?}", e.category())),
            "status": e.and_then(Error::status),
            "code": e.and_then(Error::code),
            "description": e.map(Error::description),
            "requestId": e.and_then(Error::request_id),
            "correlationId": e.and_then(Error::correlation_id),
            "retryAfterSeconds": e.and_then(Error::retry_after).map(|d| d.as_secs()),
            "exitCode": failure.exit,
        });
        errln!("{body}");
    } else {
        errln!("error: {}", failure.message);
    }
    ExitCode::from(failure.exit)
}

/// The exit code of a command's outcome, its failure reported on stderr.
pub fn finish(result: Result<(), Failure>, json: bool) -> ExitCode {
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => report(&f, json),
    }
}

/// An enum of the API as the SDK models it (open: unknown values are kept as `Other`).
pub trait ApiEnum: Clone + PartialEq + Send + Sync + 'static {
    /// Case-insensitive, with the SDK's aliases.
    fn parse(s: &str) -> Self;
    /// The wire spelling.
    fn as_str(&self) -> &str;
}

macro_rules! api_enum {
    ($($t:ty),+ $(,)?) => {
        $(impl ApiEnum for $t {
            fn parse(s: &str) -> Self {
                <$t>::parse(s)
            }
            fn as_str(&self) -> &str {
                <$t>::as_str(self)
            }
        })+
    };
}

api_enum!(
    Qualification,
    VettingStatus,
    EducationSegment,
    AccountStatus,
    GdapRole,
    ValidationType,
    DeliveryStatus,
);

/// A flag that takes one of `allowed` (matched as the SDK matches: case-insensitively and with
/// its aliases, e.g. `NotReady` for `Not Ready`), listed in `--help`; anything else is a usage
/// error naming the flag (exit 2). Use it as `#[arg(long, value_parser = one_of(&[...]))]`.
pub fn one_of<T: ApiEnum>(allowed: &'static [T]) -> OneOf<T> {
    OneOf(allowed)
}

#[derive(Clone)]
pub struct OneOf<T: 'static>(&'static [T]);

impl<T: ApiEnum> TypedValueParser for OneOf<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        if let Some(parsed) = value.to_str().map(T::parse)
            && self.0.contains(&parsed)
        {
            return Ok(parsed);
        }
        // clap's own message: "invalid value 'X' for '--flag <FLAG>' [possible values: ...]".
        let names = self.0.iter().map(ApiEnum::as_str);
        PossibleValuesParser::new(names)
            .parse_ref(cmd, arg, value)
            .map(|s| T::parse(&s))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.0.iter().map(|v| PossibleValue::new(v.as_str())),
        ))
    }
}
