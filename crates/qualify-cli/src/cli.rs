//! The command tree (the CLI contract of product.md).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use qualify_core::PartnerId;
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::{DevToken, Secret, mint_dev_token};

use crate::flags::{duration, guid};

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
    #[arg(long, value_parser = guid)]
    pub tenant: PartnerId,
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
    #[arg(long, default_value = "1h", value_parser = duration)]
    pub ttl: Duration,
    /// Must match the server's dev secret
    #[arg(long, env = "QUALIFY_DEV_SECRET", hide_env_values = true)]
    pub dev_secret: Option<String>,
    /// Token audience (must match the server's)
    #[arg(long, env = "QUALIFY_OIDC_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub audience: String,
}

pub fn token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let (tenant, ttl) = (args.tenant, args.ttl);
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
    outln!("{token}")?;
    Ok(ExitCode::SUCCESS)
}

/// The `serve` command as clap has it (for the README's table and the tests).
pub fn serve_command() -> clap::Command {
    Cli::command()
        .find_subcommand("serve")
        .expect("serve is a subcommand")
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every text `--help` shows, of `cmd` and its subcommands and their flags, with where.
    fn help_texts(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        let texts = [
            cmd.get_about(),
            cmd.get_long_about(),
            cmd.get_before_help(),
            cmd.get_before_long_help(),
            cmd.get_after_help(),
            cmd.get_after_long_help(),
        ];
        for text in texts.into_iter().flatten() {
            out.push((path.to_owned(), text.to_string()));
        }
        for arg in cmd.get_arguments() {
            for text in [arg.get_help(), arg.get_long_help()].into_iter().flatten() {
                out.push((format!("{path} --{}", arg.get_id()), text.to_string()));
            }
        }
        for sub in cmd.get_subcommands() {
            help_texts(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    /// A heading's anchor as GitHub makes it: `## Fixtures: seed, snapshot` ->
    /// `fixtures-seed-snapshot`.
    fn anchor(heading: &str) -> String {
        heading
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    }

    /// `--help` sends a reader to documents of the repository (`docs/testing.md#reset`), never to
    /// the design's own (`control.md`, `events.md`), which a user of the repository does not
    /// have; every document and section cited exists.
    #[test]
    fn help_cites_only_documents_the_repository_has() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut texts = vec![];
        help_texts(&Cli::command(), "qualify", &mut texts);
        let mut cited = 0;
        for (place, text) in &texts {
            let words = text.split(|c: char| c.is_whitespace() || "(),;`\"'".contains(c));
            for word in words.filter(|w| w.contains(".md")) {
                let word = word.trim_end_matches(['.', ':']);
                let (file, section) = word.split_once('#').unwrap_or((word, ""));
                assert!(
                    file.starts_with("docs/"),
                    "{place}: cites {word}, not a document of the repository's docs/: {text}"
                );
                let doc = std::fs::read_to_string(format!("{root}/{file}"))
                    .unwrap_or_else(|e| panic!("{place}: cites {file}: {e}"));
                if !section.is_empty() {
                    assert!(
                        doc.lines()
                            .filter(|l| l.starts_with('#'))
                            .any(|l| anchor(l) == section),
                        "{place}: {file} has no section #{section}"
                    );
                }
                cited += 1;
            }
        }
        assert!(cited >= 10, "the help cites the guides: {cited} citations");
    }

    #[test]
    fn durations_and_guids_are_refused_in_words() {
        assert_eq!(duration(" 1h 30m ").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            duration("1x").unwrap_err(),
            "`1x` is not a duration (e.g. 250ms, 30s, 5m, 1h)"
        );
        assert!(
            guid("notaguid")
                .unwrap_err()
                .contains("`notaguid` is not a GUID")
        );
        let id = "9daaeb1c-4d6c-4bb0-9d4b-5d63dc3e0f3a";
        assert_eq!(guid(id).unwrap().to_string(), id);
    }
}
