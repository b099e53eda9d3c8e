//! `qualify admin reset|fixtures|scenario|clock`: the state part of the test control plane
//! (control.md 1-4) through the SDK. Like the other operator commands: tables by default, `--json`
//! for the API's shapes, exit codes 0/1/2/3. Fixture documents are JSON in and out: `fixtures
//! snapshot` always prints the document (to redirect into a file), `restore`, `seed` and
//! `scenario set` read a file or `-` for stdin and send it as it is, so the server's errors name
//! the offending field by its JSON path.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use qualify_client::models::date;
use qualify_client::{
    Admin, AppliedTransition, ClockAdvance, ClockState, ControlCounts, ErrorCategory, Scenario,
    ScenarioRule,
};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::remote::{EXIT_TRANSPORT, Failure};
use crate::render::{Output, Tabular, opt};

/// `qualify admin reset`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Only this partner tenant (GUID); without it every partner is reset
    #[arg(long)]
    pub partner: Option<String>,
}

/// `qualify admin fixtures ...`.
#[derive(Debug, Subcommand)]
pub enum FixturesCommand {
    /// Print the fixture document of all state, or of one partner (JSON, e.g. `> state.json`)
    Snapshot {
        /// Only this partner tenant (GUID)
        #[arg(long)]
        partner: Option<String>,
    },
    /// Replace all state (or one partner's) with a fixture document, in one transaction
    Restore {
        /// Only this partner tenant (GUID); the document must then hold that partner only
        #[arg(long)]
        partner: Option<String>,
        /// The document (JSON), or `-` for stdin
        file: PathBuf,
    },
    /// Apply a fixture document: an upsert by id, all or nothing
    Seed {
        /// The document (JSON), or `-` for stdin
        file: PathBuf,
    },
    /// Print the JSON Schema of the fixture document
    Schema,
}

/// `qualify admin scenario ...`.
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Set a partner's vetting scenario from a file (`{"rules": [...]}`,
    /// docs/testing.md#vetting-scenarios)
    Set {
        /// The partner tenant (GUID)
        #[arg(long)]
        partner: String,
        /// The scenario (JSON), or `-` for stdin
        file: PathBuf,
    },
    /// Show a partner's vetting scenario (no rules when it has none)
    Get {
        /// The partner tenant (GUID)
        #[arg(long)]
        partner: String,
    },
    /// Remove a partner's scenario: the server's --vetting mode decides again
    Clear {
        /// The partner tenant (GUID)
        #[arg(long)]
        partner: String,
    },
}

/// `qualify admin clock ...`.
#[derive(Debug, Args)]
pub struct ClockArgs {
    /// A partner's clock (GUID); without it the global clock, which partners without a clock of
    /// their own follow
    #[arg(long, global = true)]
    pub partner: Option<String>,
    #[command(subcommand)]
    pub command: ClockCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Show the clock: its time, mode (system, frozen, running) and scope (global, partner)
    Get,
    /// Stop time at an instant (RFC 3339); once a scope has a clock, time never goes back
    Freeze {
        /// e.g. 2030-01-01T00:00:00Z
        #[arg(value_parser = parse_instant)]
        at: OffsetDateTime,
    },
    /// Move time forward and run the work that falls due on the way; prints the transitions
    /// applied (never sent twice: a second attempt would move time again)
    #[command(group(ArgGroup::new("how").required(true).args(["by", "to"])))]
    Advance {
        /// A duration: 250ms, 2s, 72h, 3d, PT72H
        #[arg(long, value_parser = parse_span)]
        by: Option<Duration>,
        /// An instant (RFC 3339)
        #[arg(long, value_parser = parse_instant)]
        to: Option<OffsetDateTime>,
        /// How long the advance may take (the server bounds it with --advance-timeout)
        #[arg(long, value_parser = parse_span)]
        timeout: Option<Duration>,
    },
    /// Let time run on from the frozen instant (mode running)
    Resume,
    /// Remove the clock: a partner follows the global clock again, the global clock real time
    Clear,
}

fn parse_instant(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|_| format!("{s:?} is not an RFC 3339 instant such as 2030-01-01T00:00:00Z"))
}

/// A duration as control bodies take it (humantime or ISO 8601), parsed by the server's rules.
fn parse_span(s: &str) -> Result<Duration, String> {
    qualify_server::control::duration("", s).map_err(|e| e.error.description)
}

/// A JSON document from a file or stdin (`-`). Not JSON: a usage error naming the file.
fn read_document(file: &PathBuf) -> Result<serde_json::Value, Failure> {
    let (name, text) = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        ("stdin".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
        (file.display().to_string(), text)
    };
    serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| Failure::usage(format!("{name} is not JSON: {e}")))
}

/// Prints a document as JSON, whatever the output mode.
fn print_document<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure {
        exit: EXIT_TRANSPORT,
        message: format!("cannot print the answer as JSON: {e}"),
        error: None,
    })?;
    Ok(outln!("{text}")?)
}

/// `qualify admin reset [--partner P]`.
pub async fn reset(admin: Admin<'_>, args: ResetArgs, out: Output) -> Result<(), Failure> {
    let removed = match args.partner {
        Some(p) => admin.partner(p).reset().await?,
        None => admin.reset().await?,
    };
    out.one(&removed)
}

/// `qualify admin fixtures ...`.
pub async fn fixtures(
    admin: Admin<'_>,
    command: FixturesCommand,
    out: Output,
) -> Result<(), Failure> {
    match command {
        FixturesCommand::Snapshot { partner } => {
            let doc = match partner {
                Some(p) => admin.partner(p).snapshot().await?,
                None => admin.snapshot().await?,
            };
            print_document(&doc)
        }
        FixturesCommand::Restore { partner, file } => {
            let doc = read_document(&file)?;
            let applied = match partner {
                Some(p) => admin.partner(p).restore(&doc).await?,
                None => admin.restore(&doc).await?,
            };
            out.one(&applied)
        }
        FixturesCommand::Seed { file } => {
            let doc = read_document(&file)?;
            out.one(&admin.seed(&doc).await?)
        }
        FixturesCommand::Schema => print_document(&admin.fixture_schema().await?),
    }
}

/// `qualify admin scenario ...`.
pub async fn scenario(
    admin: Admin<'_>,
    command: ScenarioCommand,
    out: Output,
) -> Result<(), Failure> {
    let stored = match command {
        ScenarioCommand::Set { partner, file } => {
            let doc = read_document(&file)?;
            admin.partner(partner).scenario().set(&doc).await?
        }
        ScenarioCommand::Get { partner } => admin.partner(partner).scenario().get().await?,
        ScenarioCommand::Clear { partner } => {
            return Ok(admin.partner(partner).scenario().clear().await?);
        }
    };
    if out.json {
        return print_document(&stored);
    }
    out.list(&rule_rows(&stored))
}

/// `qualify admin clock ...`.
pub async fn clock(admin: Admin<'_>, args: ClockArgs, out: Output) -> Result<(), Failure> {
    let clock = match &args.partner {
        Some(p) => admin.partner(p).clock(),
        None => admin.clock(),
    };
    let state = match args.command {
        ClockCommand::Get => clock.get().await?,
        ClockCommand::Freeze { at } => clock.freeze(at).await?,
        ClockCommand::Resume => clock.resume().await?,
        ClockCommand::Clear => return Ok(clock.clear().await?),
        ClockCommand::Advance { by, to, timeout } => {
            let clock = match timeout {
                Some(t) => clock.advance_timeout(t),
                None => clock,
            };
            let result = match (by, to) {
                (Some(by), _) => clock.advance_by(by).await,
                (None, Some(to)) => clock.advance_to(to).await,
                (None, None) => unreachable!("clap requires --by or --to"),
            };
            return match result {
                Ok(advanced) => print_advance(&advanced, out),
                Err(e) => {
                    // Ran out of time on the server: what it did apply is shown before the error.
                    let so_far = AppliedTransition::applied_so_far(&e);
                    if e.category() == ErrorCategory::ServerBusy && !so_far.is_empty() {
                        if out.json {
                            print_document(&serde_json::json!({ "applied": so_far }))?;
                        } else {
                            out.list(&so_far)?;
                        }
                    }
                    Err(e.into())
                }
            };
        }
    };
    out.one(&state)
}

/// The transitions as a table (the new time on stderr), or `{"now", "applied"}` with `--json`.
fn print_advance(advanced: &ClockAdvance, out: Output) -> Result<(), Failure> {
    if out.json {
        return print_document(advanced);
    }
    out.list(&advanced.applied)?;
    let n = advanced.applied.len();
    errln!(
        "now {} ({n} transition{} applied)",
        date::format_control(&advanced.now),
        if n == 1 { "" } else { "s" }
    );
    Ok(())
}

impl Tabular for ControlCounts {
    const COLUMNS: &'static [&'static str] = &["CUSTOMERS", "QUALIFICATIONS", "VALIDATION CODES"];
    fn row(&self) -> Vec<String> {
        vec![
            self.customers.to_string(),
            self.qualifications.to_string(),
            self.validation_codes.to_string(),
        ]
    }
}

impl Tabular for ClockState {
    const COLUMNS: &'static [&'static str] = &["NOW", "MODE", "SCOPE"];
    fn row(&self) -> Vec<String> {
        vec![
            date::format_control(&self.now),
            self.mode.to_string(),
            self.scope.to_string(),
        ]
    }
}

impl Tabular for AppliedTransition {
    const COLUMNS: &'static [&'static str] =
        &["AT", "CUSTOMER", "QUALIFICATION", "FROM", "TO", "REASON"];
    fn row(&self) -> Vec<String> {
        vec![
            date::format_control(&self.at),
            self.customer_id.clone(),
            self.qualification.to_string(),
            self.from.to_string(),
            self.to.to_string(),
            opt(&self.reason),
        ]
    }
}

/// One rule of a scenario as a table row (numbered from 1, as audit events name them).
#[derive(Serialize)]
struct RuleRow<'a> {
    number: usize,
    rule: &'a ScenarioRule,
}

fn rule_rows(scenario: &Scenario) -> Vec<RuleRow<'_>> {
    scenario
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| RuleRow {
            number: i + 1,
            rule,
        })
        .collect()
}

impl Tabular for RuleRow<'_> {
    const COLUMNS: &'static [&'static str] = &["RULE", "MATCH", "OUTCOME", "REASON", "WHEN"];
    fn row(&self) -> Vec<String> {
        let m = &self.rule.matches;
        let mut matches: Vec<String> = [
            (
                "qualification",
                m.qualification.as_ref().map(|q| q.to_string()),
            ),
            (
                "educationSegment",
                m.education_segment.as_ref().map(|s| s.to_string()),
            ),
            ("customerId", m.customer_id.clone()),
            ("website", m.website.clone()),
            ("domain", m.domain.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect();
        matches.extend(m.extra.iter().map(|(k, v)| format!("{k}={v}")));
        let when = match (&self.rule.after, self.rule.after_reads) {
            (Some(after), _) => format!("after {after}"),
            (None, Some(n)) => format!("read {n}"),
            (None, None) => "at once".to_owned(),
        };
        vec![
            self.number.to_string(),
            if matches.is_empty() {
                "*".to_owned()
            } else {
                matches.join(" ")
            },
            self.rule.outcome.to_string(),
            opt(&self.rule.reason),
            when,
        ]
    }
}

#[cfg(test)]
mod tests {
    /// docs/testing.md quotes the pytest example that CI runs: the quote must stay what the file
    /// says.
    #[test]
    fn the_testing_guide_quotes_the_pytest_example_as_it_is() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let guide = std::fs::read_to_string(format!("{root}/docs/testing.md")).unwrap();
        let example =
            std::fs::read_to_string(format!("{root}/docs/examples/test_qualify_example.py"))
                .unwrap();
        let (_, after) = guide
            .split_once("Its main test, as it is in the file:\n\n```python\n")
            .expect("the quote's heading in docs/testing.md");
        let (quote, _) = after.split_once("```").expect("the end of the quote");
        assert!(quote.lines().count() > 10, "{quote}");
        assert!(
            example.contains(quote),
            "docs/testing.md quotes a test that docs/examples/test_qualify_example.py does not \
             have (copy it again from the file):\n{quote}"
        );
    }
}
