//! The settings of `serve`: layering, usage errors, the README's table.

use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use qualify_core::policy::{DEFAULT_ACADEMIC_SUFFIXES, VettingMode};
use qualify_core::validation::GdapRole;

use super::*;

/// `qualify serve ARGS`, parsed as the binary parses it but blind to the process'
/// environment (so that a `QUALIFY_*` variable of whoever runs the tests changes nothing,
/// and no test has to set one).
fn resolve_args(args: &[&str]) -> Result<Resolved, String> {
    let cmd =
        crate::cli::Cli::command().mut_subcommand("serve", |s| s.mut_args(|a| a.env(None::<&str>)));
    let matches = cmd
        .try_get_matches_from(
            std::iter::once("qualify")
                .chain(["serve"])
                .chain(args.iter().copied()),
        )
        .map_err(|e| e.to_string())?;
    let serve = matches.subcommand_matches("serve").unwrap();
    let args = ServeArgs::from_arg_matches(serve).map_err(|e| e.to_string())?;
    resolve(&args, serve).map_err(|e| e.0)
}

fn toml(dir: &tempfile::TempDir, text: &str) -> String {
    let file = dir.path().join("qualify.toml");
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

#[test]
fn defaults() {
    let r = resolve_args(&[]).unwrap();
    assert_eq!(r.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(
        r.database,
        DatabaseUrl::Sqlite("sqlite://qualify.db".into())
    );
    assert!(!r.json_logs);
    let s = &r.server;
    let d = ServerConfig::default();
    assert_eq!(s.rate_limit_per_minute, 500);
    assert_eq!(s.policy, d.policy);
    assert_eq!(s.policy.mode, VettingMode::Manual);
    assert_eq!(
        s.policy.academic_suffixes.len(),
        DEFAULT_ACADEMIC_SUFFIXES.len()
    );
    assert_eq!(s.default_gdap_roles, vec![GdapRole::DirectoryReader]);
    assert_eq!(
        (
            s.job_lease,
            s.request_timeout,
            s.header_read_timeout,
            s.body_read_timeout
        ),
        (
            d.job_lease,
            d.request_timeout,
            d.header_read_timeout,
            d.body_read_timeout
        )
    );
    assert_eq!(
        (s.max_header_bytes, s.max_connections, s.max_in_flight),
        (65536, 1024, 512)
    );
    assert_eq!(r.postgres.max_connections, 16);
    assert_eq!(r.postgres.statement_timeout, Duration::from_secs(30));
    match &s.auth {
        AuthConfig::Dev { secret, audience } => {
            assert_eq!(secret.expose(), DEFAULT_DEV_SECRET);
            assert_eq!(audience, DEFAULT_AUDIENCE);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn flags_override_the_file_and_the_file_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = toml(
        &dir,
        "listen = \"127.0.0.1:9999\"\nvetting = \"auto\"\nrate_limit_per_minute = 7\n\
         vetting_delay = \"5s\"\nacademic_suffixes = [\".edu\"]\nmax_in_flight = \"9\"\n",
    );
    let r = resolve_args(&["--config", &file, "--rate-limit-per-minute", "9"]).unwrap();
    assert_eq!(r.listen, "127.0.0.1:9999".parse().unwrap());
    assert_eq!(r.server.policy.mode, VettingMode::Auto);
    assert_eq!(r.server.policy.delay, Duration::from_secs(5));
    assert_eq!(r.server.policy.academic_suffixes, vec![".edu".to_owned()]);
    assert_eq!(r.server.max_in_flight, 9);
    assert_eq!(r.server.rate_limit_per_minute, 9);
    // A flag given with the default's value still beats the file.
    let r = resolve_args(&["--config", &file, "--vetting", "manual"]).unwrap();
    assert_eq!(r.server.policy.mode, VettingMode::Manual);
    // A file value that a flag overrides is never read.
    let file = toml(&dir, "vetting_delay = \"soon\"\n");
    let r = resolve_args(&["--config", &file, "--vetting-delay", "1s"]).unwrap();
    assert_eq!(r.server.policy.delay, Duration::from_secs(1));
}

#[test]
fn typed_values_from_flags() {
    let r = resolve_args(&[
        "--request-timeout",
        "5s",
        "--header-read-timeout",
        "2s",
        "--max-connections",
        "7",
        "--default-gdap-roles",
        "",
        "--database",
        "./q.db",
        "--log-format",
        "json",
        "--auth",
        "oidc",
        "--oidc-jwks",
        "jwks.json",
        "--oidc-issuer",
        "iss",
        "--oidc-jwks-refresh",
        "10m",
    ])
    .unwrap();
    assert_eq!(r.server.request_timeout, Duration::from_secs(5));
    assert_eq!(r.server.header_read_timeout, Duration::from_secs(2));
    assert_eq!(r.server.max_connections, 7);
    assert_eq!(r.server.default_gdap_roles, vec![]);
    assert_eq!(r.database, DatabaseUrl::Sqlite("./q.db".into()));
    assert!(r.json_logs);
    assert!(matches!(
        r.server.auth,
        AuthConfig::Oidc { jwks_refresh, .. } if jwks_refresh == Duration::from_secs(600)
    ));
}

#[test]
fn bad_values_are_usage_errors_naming_the_flag_and_the_source() {
    let bad = |args: &[&str]| resolve_args(args).unwrap_err();
    let e = bad(&["--vetting-delay", "soon"]);
    assert!(
        e.contains("invalid value \"soon\" for --vetting-delay (from the command line)"),
        "{e}"
    );
    for (args, says) in [
        (&["--max-header-bytes", "100"][..], "at least 8192"),
        (&["--header-read-timeout", "0s"], "at least 100ms"),
        (&["--max-in-flight", "0"], "--max-in-flight"),
        (&["--job-lease", "10ms"], "--job-lease"),
        (&["--auth", "oidc"], "--oidc-jwks"),
        (&["--default-gdap-roles", "Global Admin"], "GDAP"),
        (&["--database", "mysql://x"], "sqlite::memory:"),
        (&["--listen", "0.0.0.0:0"], "refusing to listen"),
    ] {
        let e = bad(args);
        assert!(e.contains(says), "{args:?}: {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = toml(&dir, "no_such_key = 1\n");
    let e = bad(&["--config", &file]);
    assert!(e.contains("unknown key no_such_key in"), "{e}");
    let file = toml(&dir, "vetting_delay = \"soon\"\n");
    let e = bad(&["--config", &file]);
    assert_eq!(
        e,
        format!(
            "invalid value \"soon\" for vetting_delay in {file} (--vetting-delay): \
             expected a duration such as 30s or 5m"
        )
    );
    let file = toml(
        &dir,
        "default_gdap_roles = [\"Directory Reader\", \"Root\"]\n",
    );
    let e = bad(&["--config", &file]);
    assert!(
        e.starts_with("invalid value \"Root\" for default_gdap_roles in"),
        "{e}"
    );
    let file = toml(&dir, "allow_dev_auth_on_network = \"yes\"\n");
    let e = bad(&["--config", &file]);
    assert!(e.contains("allow_dev_auth_on_network in"), "{e}");
    let file = toml(&dir, "auth = \"oidc\"\n");
    let e = bad(&["--config", &file]);
    assert!(
        e.contains(&format!(
            "--auth oidc (from auth in {file}) needs --oidc-jwks"
        )),
        "{e}"
    );
    let e = bad(&["--config", "/nonexistent/q.toml"]);
    assert!(
        e.contains("/nonexistent/q.toml (--config, from the command line) does not exist"),
        "{e}"
    );
    let file = toml(&dir, "config = \"other.toml\"\n");
    assert!(bad(&["--config", &file]).contains("unknown key config"));
    let e = bad(&["--seed", "/nonexistent/seed.json"]);
    assert_eq!(
        e,
        "the fixture document /nonexistent/seed.json (--seed, from the command line) does \
         not exist"
    );
    let e = bad(&["--database", "sqlite:///nonexistent-dir/q.db"]);
    assert!(
        e.starts_with(
            "the folder /nonexistent-dir of the database file /nonexistent-dir/q.db \
             (--database, from the command line) does not exist"
        ),
        "{e}"
    );
    let e = bad(&["--database", &format!("{file}/q.db")]);
    assert!(e.contains("is not a folder"), "{e}");
}

/// Every typed setting's
/// parser is ours (its error says where the value came from).
#[test]
fn every_typed_setting_refuses_garbage_naming_its_source() {
    let cmd = crate::cli::serve_command();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        // Free text, or (database, seed) a bare file path.
        if matches!(
            id,
            "help"
                | "config"
                | "seed"
                | "oidc_jwks"
                | "oidc_issuer"
                | "oidc_audience"
                | "dev_secret"
                | "database"
        ) {
            continue;
        }
        let long = format!("--{}", arg.get_long().unwrap());
        let e = resolve_args(&[&long, "\u{1}garbage"]).unwrap_err();
        assert!(
            e.contains(&format!("for {long} (from the command line)")),
            "{long}: {e}"
        );
    }
}

#[test]
fn secrets_are_not_in_debug_output() {
    let r = resolve_args(&[
        "--dev-secret",
        "hunter2-hunter2",
        "--database",
        "postgres://u:pg-password@h/db",
    ])
    .unwrap();
    let shown = format!("{r:?}");
    // `--help` prints an environment variable's value unless told not to, and an error
    // from the file prints the value: neither for a setting that may hold a secret.
    for arg in crate::cli::serve_command().get_arguments() {
        if arg.is_hide_env_values_set() {
            let key = arg.get_id().as_str();
            let e = show_file_value(key, "postgres://u:hunter2@h/x");
            assert!(!e.contains("hunter2"), "{key} shows {e}");
        }
    }
    for key in ["dev_secret", "database"] {
        assert!(arg_of(key).unwrap().is_hide_env_values_set(), "{key}");
    }
    assert!(
        !shown.contains("hunter2") && !shown.contains("pg-password"),
        "{shown}"
    );
}

/// The README's table of `serve` flags, rendered from clap.
fn flags_table() -> String {
    let cell = |s: &str| {
        s.replace('|', "\\|")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = String::from("| flag | env | default | what |\n|---|---|---|---|\n");
    for arg in crate::cli::serve_command().get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" {
            continue;
        }
        let env = arg
            .get_env()
            .map(|e| format!("`{}`", e.to_string_lossy()))
            .unwrap_or_else(|| "—".into());
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = if arg.is_hide_default_value_set() {
            "(hidden)".to_owned()
        } else if defaults.is_empty() {
            "—".to_owned()
        } else {
            format!("`{}`", defaults.join(","))
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let what = cell(&help);
        out.push_str(&format!("| `--{long}` | {env} | {default} | {what} |\n"));
    }
    out
}

#[test]
fn the_readme_lists_every_serve_flag_as_clap_has_it() {
    const BEGIN: &str = "<!-- serve-flags: generated from clap by `QUALIFY_UPDATE_README=1 cargo test -p qualify-cli --lib readme` -->\n";
    const END: &str = "<!-- serve-flags end -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let expected = flags_table();
    let (start, end) = match (readme.find(BEGIN), readme.find(END)) {
        (Some(s), Some(e)) if s < e => (s + BEGIN.len(), e),
        _ => panic!("README.md lacks the markers of the serve flags table:\n{BEGIN}{END}"),
    };
    if readme[start..end] == expected {
        return;
    }
    if std::env::var_os("QUALIFY_UPDATE_README").is_some() {
        std::fs::write(
            path,
            format!("{}{expected}{}", &readme[..start], &readme[end..]),
        )
        .unwrap();
        return;
    }
    panic!(
        "README.md's table of serve flags differs from clap's; it should read:\n\n{expected}\n\
         (or run: QUALIFY_UPDATE_README=1 cargo test -p qualify-cli --lib readme)"
    );
}
