//! The value parsers of flags (`value_parser = ...`): a bad value is a usage error (exit 2) in
//! clap's words, followed by what is wrong and what is accepted.

use std::time::Duration;

use qualify_core::PartnerId;

/// The value parser of a duration flag (`value_parser = duration`): `250ms`, `30s`, `1h 30m`.
/// A bad value is a usage error (exit 2) in clap's words, "invalid value '1x' for '--ttl <TTL>'",
/// followed by this: what is wrong and what is accepted (not humantime's own message, which
/// lists units such as "months" that a flag never wants).
pub fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|_| format!("`{s}` is not a duration (e.g. 250ms, 30s, 5m, 1h)"))
}

/// The value parser of a GUID flag (`value_parser = guid`), e.g. a partner tenant id.
pub fn guid(s: &str) -> Result<PartnerId, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a GUID (e.g. 9daaeb1c-4d6c-4bb0-9d4b-5d63dc3e0f3a)"))
}
