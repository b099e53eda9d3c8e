//! The types of `qualify serve`'s settings. Each reads its value from text in one place
//! ([`Setting::parse`]), whether the text comes from a flag, an environment variable or the
//! config file, so all three accept the same values and refuse bad ones with the same words.
//!
//! A type becomes a setting by implementing [`Setting`] and `Display` (what `--help` shows as
//! the default) and listing it in `setting!`, which gives clap its parser and serde its
//! (de)serialisation through that text.

use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;

use clap::builder::{PossibleValue, TypedValueParser, ValueParserFactory};
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use qualify_core::policy::DEFAULT_ACADEMIC_SUFFIXES;
use qualify_core::validation::GdapRole;
use qualify_server::Secret;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A setting's value, read from text.
pub trait Setting: Sized + Clone + Send + Sync + 'static {
    /// The error says what a good value looks like ("expected a duration such as 30s"); the
    /// caller adds the value and where it came from.
    fn parse(text: &str) -> Result<Self, String>;
    /// The words a choice accepts, for `--help`; empty for anything else.
    const CHOICES: &'static [&'static str] = &[];
    /// A bad value as an error message shows it: quoted, or less of it for a secret.
    fn show(text: &str) -> String {
        format!("{text:?}")
    }
}

/// Where a value came from, as a usage error names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    /// The environment variable of that name.
    Env(String),
    /// The config file (its path as given) and the key.
    File(String, String),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::CommandLine => f.write_str("from the command line"),
            Origin::Env(name) => write!(f, "from the environment variable {name}"),
            Origin::File(path, key) => write!(f, "from {key} in {path}"),
            Origin::Default => f.write_str("the default"),
        }
    }
}

/// The one wording of a bad value: `invalid value "soon" for --vetting-delay (from the
/// environment variable QUALIFY_VETTING_DELAY): expected ...`; from the file, `... for
/// vetting_delay in q.toml (--vetting-delay): ...`.
pub fn invalid_value(value: &str, flag: &str, origin: &Origin, reason: &str) -> String {
    match origin {
        Origin::File(path, key) => {
            format!("invalid value {value} for {key} in {path} ({flag}): {reason}")
        }
        other => format!("invalid value {value} for {flag} ({other}): {reason}"),
    }
}

/// clap's parser of a [`Setting`]: a bad value is a usage error that names the flag and where
/// the value came from (clap's own errors do not say that a value came from the environment).
pub struct SettingParser<T>(PhantomData<fn() -> T>);

impl<T> SettingParser<T> {
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T> Default for SettingParser<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for SettingParser<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T: Setting> TypedValueParser for SettingParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        self.parse_ref_(cmd, arg, value, ValueSource::CommandLine)
    }

    fn parse_ref_(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
        source: ValueSource,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        let reason = match value.to_str() {
            Some(text) => match T::parse(text) {
                Ok(v) => return Ok(v),
                Err(reason) => reason,
            },
            None => "expected UTF-8 text".to_owned(),
        };
        let flag = arg
            .and_then(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .unwrap_or_default();
        let origin = match source {
            ValueSource::EnvVariable => Origin::Env(
                arg.and_then(|a| a.get_env())
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            ValueSource::DefaultValue => Origin::Default,
            _ => Origin::CommandLine,
        };
        let shown = T::show(&text);
        Err(clap::Error::raw(
            ErrorKind::ValueValidation,
            format!("{}\n", invalid_value(&shown, &flag, &origin, &reason)),
        )
        .with_cmd(cmd))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        if T::CHOICES.is_empty() {
            None
        } else {
            Some(Box::new(T::CHOICES.iter().map(PossibleValue::new)))
        }
    }
}

/// Reads a setting from whatever scalar the file holds (`max_in_flight = 8` as well as `"8"`).
struct TextVisitor<T>(PhantomData<fn() -> T>);

impl<'de, T: Setting> Visitor<'de> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

/// clap's parser, serde's `Deserialize` through [`Setting::parse`], and (unless the type writes
/// its own) `Serialize` through `Display`.
macro_rules! setting {
    ($ty:ident $(<const $c:ident: $ct:ty>)? $(, $display:ident)?) => {
        impl$(<const $c: $ct>)? ValueParserFactory for $ty$(<$c>)? {
            type Parser = SettingParser<Self>;
            fn value_parser() -> Self::Parser {
                SettingParser::new()
            }
        }
        impl<'de $(, const $c: $ct)?> Deserialize<'de> for $ty$(<$c>)? {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(TextVisitor(PhantomData))
            }
        }
        setting!(@serialize $ty $(<const $c: $ct>)? $(, $display)?);
    };
    (@serialize $ty:ident $(<const $c:ident: $ct:ty>)?) => {
        impl$(<const $c: $ct>)? Serialize for $ty$(<$c>)? {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
    (@serialize $ty:ident $(<const $c:ident: $ct:ty>)?, own_serialize) => {};
}

/// A choice among words, read case-insensitively.
macro_rules! choice {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vm])* $variant),+
        }
        impl Setting for $name {
            const CHOICES: &'static [&'static str] = &[$($word),+];
            fn parse(text: &str) -> Result<Self, String> {
                $(if text.trim().eq_ignore_ascii_case($word) {
                    return Ok(Self::$variant);
                })+
                Err(format!("expected one of {}", Self::CHOICES.join(", ")))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $(Self::$variant => $word),+
                })
            }
        }
        setting!($name);
    };
}

choice! {
    /// `--auth`.
    AuthMode { Dev = "dev", Oidc = "oidc" }
}

choice! {
    /// `--vetting`.
    Vetting { Manual = "manual", Auto = "auto" }
}

choice! {
    /// `--log-format`.
    LogFormat { Text = "text", Json = "json" }
}

impl From<Vetting> for qualify_core::policy::VettingMode {
    fn from(v: Vetting) -> Self {
        match v {
            Vetting::Manual => Self::Manual,
            Vetting::Auto => Self::Auto,
        }
    }
}

impl From<qualify_core::policy::VettingMode> for Vetting {
    fn from(v: qualify_core::policy::VettingMode) -> Self {
        match v {
            qualify_core::policy::VettingMode::Manual => Self::Manual,
            qualify_core::policy::VettingMode::Auto => Self::Auto,
        }
    }
}

impl Setting for bool {
    const CHOICES: &'static [&'static str] = &["true", "false"];
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("expected true or false".into()),
        }
    }
}

/// A duration such as `250ms`, `30s`, `5m` or `1h 30m` (humantime), of at least `MIN_MS`
/// milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration<const MIN_MS: u64 = 0>(std::time::Duration);

/// A timeout or lease: below 100 ms everything would time out.
pub type Timeout = HumanDuration<100>;

impl<const MIN_MS: u64> HumanDuration<MIN_MS> {
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl<const MIN_MS: u64> From<std::time::Duration> for HumanDuration<MIN_MS> {
    fn from(d: std::time::Duration) -> Self {
        Self(d)
    }
}

impl<const MIN_MS: u64> Setting for HumanDuration<MIN_MS> {
    fn parse(text: &str) -> Result<Self, String> {
        let min = std::time::Duration::from_millis(MIN_MS);
        let expected = || {
            if MIN_MS == 0 {
                "expected a duration such as 30s or 5m".to_owned()
            } else {
                format!(
                    "expected a duration of at least {}, such as 30s or 5m",
                    humantime::format_duration(min)
                )
            }
        };
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d < min => Err(expected()),
            Ok(d) => match qualify_core::time_fmt::too_long(d) {
                Some(why) => Err(format!("{} {why}", text.trim())),
                None => Ok(Self(d)),
            },
            _ => Err(expected()),
        }
    }
}

impl<const MIN_MS: u64> fmt::Display for HumanDuration<MIN_MS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

setting!(HumanDuration<const MIN_MS: u64>);

/// A whole number of at least `MIN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtLeast<const MIN: u64>(u64);

impl<const MIN: u64> AtLeast<MIN> {
    pub fn get(self) -> u64 {
        self.0
    }
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
    pub fn as_u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }
}

impl<const MIN: u64> Setting for AtLeast<MIN> {
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim().parse::<u64>() {
            Ok(n) if n >= MIN => Ok(Self(n)),
            _ => Err(format!("expected a whole number of at least {MIN}")),
        }
    }
}

impl<const MIN: u64> fmt::Display for AtLeast<MIN> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<const MIN: u64> From<u32> for AtLeast<MIN> {
    fn from(n: u32) -> Self {
        Self(u64::from(n))
    }
}

impl<const MIN: u64> From<usize> for AtLeast<MIN> {
    fn from(n: usize) -> Self {
        Self(n as u64)
    }
}

impl<const MIN: u64> Serialize for AtLeast<MIN> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

setting!(AtLeast<const MIN: u64>, own_serialize);

/// `--clock frozen:T`: the global clock starts frozen at the RFC 3339 instant T.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartClock(pub time::OffsetDateTime);

impl Setting for StartClock {
    fn parse(text: &str) -> Result<Self, String> {
        let at = text.trim().strip_prefix("frozen:").ok_or_else(|| {
            "expected frozen:T with T an RFC 3339 instant, e.g. frozen:2030-01-01T00:00:00Z"
                .to_owned()
        })?;
        let t =
            time::OffsetDateTime::parse(at.trim(), &time::format_description::well_known::Rfc3339)
                .map(|t| qualify_core::time_fmt::truncate_millis(t.to_offset(time::UtcOffset::UTC)))
                .map_err(|_| {
                    format!("{at:?} is not an RFC 3339 instant such as 2030-01-01T00:00:00Z")
                })?;
        match qualify_core::time_fmt::out_of_range(t) {
            Some(why) => Err(why),
            None => Ok(Self(t)),
        }
    }
}

impl fmt::Display for StartClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "frozen:{}", qualify_core::time_fmt::wire(self.0))
    }
}

setting!(StartClock);

/// `--listen`: a socket address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl Setting for ListenAddr {
    fn parse(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map(Self)
            .map_err(|_| "expected an address such as 127.0.0.1:8080 or [::1]:0".to_owned())
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

setting!(ListenAddr);

/// `--database`: which store, and the URL it opens. Schemes other than these are refused (a
/// typo must not silently become a SQLite file named after it).
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://FILE`, `sqlite:FILE`, `sqlite::memory:` or a bare file path, as given.
    Sqlite(String),
    /// `postgres://...` or `postgresql://...`.
    Postgres(String),
}

const DATABASE_FORMS: &str = "sqlite://FILE, sqlite:FILE, sqlite::memory:, postgres://..., \
                              postgresql://... or a file path without a scheme";

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite(u) | DatabaseUrl::Postgres(u) => u,
        }
    }

    /// The URL without its password, for logs and messages.
    pub fn redacted(&self) -> String {
        redact(self.as_str())
    }
}

/// `url` with the password of its user info, if it has one, shown as `***`; the user stays.
fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|s| s + 3) else {
        return url.to_owned();
    };
    // The user info ends at the last `@` before the path (a password may hold `@` and `/`
    // when the URL was written without escaping them: all of it is hidden).
    let Some(at) = url[start..].rfind('@').map(|at| start + at) else {
        return url.to_owned();
    };
    match url[start..at].split_once(':') {
        Some((user, _password)) => format!("{}{user}:***{}", &url[..start], &url[at..]),
        None => url.to_owned(),
    }
}

/// The scheme of `text` (`mysql` in `mysql://x`), if it has one. A single letter is a Windows
/// drive (`C:\q.db`), not a scheme.
fn scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (scheme.len() > 1
        && first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

impl Setting for DatabaseUrl {
    fn show(text: &str) -> String {
        format!("{:?}", redact(text))
    }

    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let Some(found) = scheme(text) else {
            if text.is_empty() {
                return Err(format!("expected {DATABASE_FORMS}"));
            }
            return Ok(DatabaseUrl::Sqlite(text.to_owned()));
        };
        // The stores match the scheme in lower case.
        let rest = &text[found.len()..];
        let lower = found.to_ascii_lowercase();
        match lower.as_str() {
            "sqlite" => Ok(DatabaseUrl::Sqlite(format!("{lower}{rest}"))),
            "postgres" | "postgresql" if rest.starts_with("://") => {
                Ok(DatabaseUrl::Postgres(format!("{lower}{rest}")))
            }
            _ => Err(format!(
                "the scheme {found}: is not supported; expected {DATABASE_FORMS}"
            )),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    /// The whole URL (password included): `--help` shows the default with it, and the layering
    /// of the settings carries it. Logs use [`DatabaseUrl::redacted`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

setting!(DatabaseUrl);

/// `--dev-secret`: `Debug` prints nothing of it, and there is no `Display`.
#[derive(Clone, Debug)]
pub struct DevSecret(pub Secret);

impl Setting for DevSecret {
    fn show(_: &str) -> String {
        "(hidden)".into()
    }

    fn parse(text: &str) -> Result<Self, String> {
        Ok(Self(Secret::new(text)))
    }
}

impl Serialize for DevSecret {
    /// The value itself: only the layering of the settings (flag > env > file > default)
    /// serialises it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose())
    }
}

setting!(DevSecret, own_serialize);

/// An academic domain suffix such as `.edu` or `.ac.XX` (`XX`: any two letters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcademicSuffix(pub String);

impl AcademicSuffix {
    /// The policy's defaults (`qualify_core::policy::DEFAULT_ACADEMIC_SUFFIXES`).
    pub fn defaults() -> List<AcademicSuffix> {
        List(
            DEFAULT_ACADEMIC_SUFFIXES
                .iter()
                .map(|s| AcademicSuffix(s.to_string()))
                .collect(),
        )
    }
}

impl Setting for AcademicSuffix {
    fn parse(text: &str) -> Result<Self, String> {
        let s = text.trim();
        if !s.starts_with('.') || s.len() < 2 || s.contains("..") {
            return Err("expected a suffix such as .edu or .ac.XX".into());
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for AcademicSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

setting!(AcademicSuffix);

/// A GDAP role by its name (`Directory Reader`; case and spaces do not matter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GdapRoleName(pub GdapRole);

impl Setting for GdapRoleName {
    fn parse(text: &str) -> Result<Self, String> {
        GdapRole::parse(text.trim()).map(Self).ok_or_else(|| {
            let names: Vec<&str> = GdapRole::ALL.iter().map(|r| r.name()).collect();
            format!("expected GDAP roles among {}", names.join(", "))
        })
    }
}

impl fmt::Display for GdapRoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

setting!(GdapRoleName);

/// A comma-separated list (`.edu,.ac.XX`; blanks are skipped, so `""` is the empty list); the
/// file may also write it as an array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T, U: Into<T>> FromIterator<U> for List<T> {
    fn from_iter<I: IntoIterator<Item = U>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

impl From<GdapRole> for GdapRoleName {
    fn from(r: GdapRole) -> Self {
        Self(r)
    }
}

impl<T: Setting> Setting for List<T> {
    fn parse(text: &str) -> Result<Self, String> {
        let items: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        items
            .iter()
            .map(|item| {
                T::parse(item).map_err(|e| {
                    if items.len() > 1 {
                        format!("{item:?}: {e}")
                    } else {
                        e
                    }
                })
            })
            .collect::<Result<_, _>>()
            .map(List)
    }
}

impl<T: fmt::Display> fmt::Display for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            item.fmt(f)?;
        }
        Ok(())
    }
}

impl<T: Setting> ValueParserFactory for List<T> {
    type Parser = SettingParser<Self>;
    fn value_parser() -> Self::Parser {
        SettingParser::new()
    }
}

impl<T: fmt::Display> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|item| item.to_string()))
    }
}

impl<'de, T: Setting + Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<fn() -> T>);
        impl<'de, T: Setting + Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of strings or a comma-separated string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<List<T>, E> {
                List::parse(v).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut items = vec![];
                while let Some(item) = seq.next_element::<T>()? {
                    items.push(item);
                }
                Ok(List(items))
            }
        }
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
