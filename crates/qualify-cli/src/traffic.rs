//! `qualify admin faults|journal|checks`: fault injection, the request journal and client checks
//! (control.md 5-7) through the SDK.

use std::time::Duration;

use clap::{Args, Subcommand};
use qualify_client::{Admin, Fault, FaultAnswer, FaultMatch, JournalEntry, NewFault, Violation};

use crate::remote::Failure;
use crate::render::{Output, Tabular, opt};

#[derive(Debug, Subcommand)]
pub enum FaultsCommand {
    /// Add a fault (tried after the existing ones); prints it with its id
    Add(Box<AddFault>),
    /// The faults in evaluation order, with hits and remaining firings
    List {
        /// Only the faults whose match.partner is this partner
        #[arg(long)]
        partner: Option<String>,
    },
    /// Remove one fault; exit 1 when there is no fault of that id
    Remove {
        /// The fault's id
        id: String,
    },
    /// Remove every fault (or one partner's)
    Clear {
        #[arg(long)]
        partner: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AddFault {
    /// The whole body as JSON (the API's shape); the other flags are then not allowed
    #[arg(long, conflicts_with_all = ["method", "path", "partner", "customer", "phase", "status", "raw_body", "drop", "patch", "latency", "nth", "times", "probability", "seed"])]
    pub file: Option<std::path::PathBuf>,
    /// Match: HTTP method
    #[arg(long)]
    pub method: Option<String>,
    /// Match: path glob (`*` one segment, `**` any), e.g. /v1/customers/*/qualifications
    #[arg(long)]
    pub path: Option<String>,
    /// Match: the partner tenant id of the request's token
    #[arg(long)]
    pub partner: Option<String>,
    /// Match: the customer id of the path
    #[arg(long)]
    pub customer: Option<String>,
    /// before (nothing executes) or after (the write commits, the answer is lost)
    #[arg(long)]
    pub phase: Option<String>,
    /// Answer with the Partner Center error body of this status (or, with --raw-body, these
    /// bytes)
    #[arg(long)]
    pub status: Option<u16>,
    /// The error body's code (default: the catalogue's for the status)
    #[arg(long, requires = "status")]
    pub code: Option<u32>,
    /// The error body's description
    #[arg(long, requires = "status")]
    pub description: Option<String>,
    /// Retry-After seconds (429 and 503 default to 1)
    #[arg(long, requires = "status")]
    pub retry_after: Option<u64>,
    /// Answer exactly these bytes (with --status)
    #[arg(long, requires = "status")]
    pub raw_body: Option<String>,
    /// The content type of --raw-body
    #[arg(long, requires = "raw_body")]
    pub content_type: Option<String>,
    /// Close the connection without an answer
    #[arg(long, conflicts_with_all = ["status", "patch"])]
    pub drop: bool,
    /// A JSON merge patch of the real answer (implies --phase after)
    #[arg(long, conflicts_with = "status")]
    pub patch: Option<String>,
    /// Delay before the answer, e.g. 250ms
    #[arg(long)]
    pub latency: Option<String>,
    /// Fire at these 1-based positions only, e.g. 1,3
    #[arg(long, value_delimiter = ',')]
    pub nth: Option<Vec<u64>>,
    /// Fire at most this often, then the fault is removed
    #[arg(long)]
    pub times: Option<u64>,
    /// Chance of firing, 0..1 (without --nth)
    #[arg(long)]
    pub probability: Option<f64>,
    /// Makes --probability reproducible
    #[arg(long)]
    pub seed: Option<u64>,
}

impl AddFault {
    fn body(self) -> Result<serde_json::Value, Failure> {
        if let Some(file) = self.file {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Failure::usage(format!("reading {}: {e}", file.display())))?;
            return serde_json::from_str(&text)
                .map_err(|e| Failure::usage(format!("{} is not JSON: {e}", file.display())));
        }
        let response = if self.drop {
            Some(FaultAnswer::Drop)
        } else if let Some(patch) = self.patch {
            let patch = serde_json::from_str(&patch)
                .map_err(|e| Failure::usage(format!("--patch is not JSON: {e}")))?;
            Some(FaultAnswer::Patch(patch))
        } else if let Some(status) = self.status {
            Some(match self.raw_body {
                Some(raw_body) => FaultAnswer::Raw {
                    status,
                    raw_body,
                    content_type: self.content_type,
                },
                None => FaultAnswer::Error {
                    status,
                    code: self.code,
                    description: self.description,
                    retry_after: self.retry_after,
                },
            })
        } else {
            None
        };
        Ok(NewFault {
            matches: FaultMatch {
                method: self.method,
                path: self.path,
                partner: self.partner,
                customer_id: self.customer,
            },
            phase: self.phase,
            response,
            latency: self.latency,
            nth: self.nth,
            times: self.times,
            probability: self.probability,
            seed: self.seed,
        }
        .to_json())
    }
}

pub async fn faults(admin: Admin<'_>, command: FaultsCommand, out: Output) -> Result<(), Failure> {
    let faults = admin.faults();
    match command {
        FaultsCommand::Add(add) => out.one(&faults.add_json(&add.body()?).await?),
        FaultsCommand::List { partner: None } => out.list(&faults.list().await?),
        FaultsCommand::List { partner: Some(p) } => out.list(&faults.list_for_partner(p).await?),
        FaultsCommand::Remove { id } => {
            // The server answers 204 for an id it does not have as well (a fault with `times`
            // removes itself, so a DELETE after that is no error there); the list tells whether
            // there is one to remove.
            if !faults.list().await?.iter().any(|f| f.id == id) {
                return Err(Failure::api(format!(
                    "fault {id} not found: it was never added or is gone already (a fault with \
                     --times removes itself once it has fired); `qualify admin faults list` \
                     shows the faults"
                )));
            }
            faults.remove(&id).await?;
            errln!("removed fault {id}");
            Ok(())
        }
        FaultsCommand::Clear { partner } => {
            faults.clear(partner.as_deref()).await?;
            errln!("faults cleared");
            Ok(())
        }
    }
}

impl Tabular for Fault {
    const COLUMNS: &'static [&'static str] = &[
        "ID",
        "METHOD",
        "PATH",
        "PARTNER",
        "PHASE",
        "ANSWER",
        "LATENCY",
        "HITS",
        "REMAINING",
    ];
    fn row(&self) -> Vec<String> {
        let answer = match &self.response {
            None => "real".to_owned(),
            Some(r) if r.get("drop").is_some() => "drop".to_owned(),
            Some(r) if r.get("patch").is_some() => format!("patch {}", r["patch"]),
            Some(r) if r.get("rawBody").is_some() => format!("{} raw", r["status"]),
            Some(r) => format!("{} {}", r["status"], r["code"]),
        };
        vec![
            self.id.clone(),
            opt(&self.matches.method),
            opt(&self.matches.path),
            opt(&self.matches.partner),
            self.phase.clone(),
            answer,
            opt(&self.latency),
            self.hits.to_string(),
            self.remaining
                .map_or_else(|| "unbounded".to_owned(), |r| r.to_string()),
        ]
    }
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Only this partner's requests
    #[arg(long)]
    pub partner: Option<String>,
    /// Only entries after this seq
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Keep printing new requests as they come (Ctrl-C to stop)
    #[arg(long)]
    pub follow: bool,
    /// How often --follow asks
    #[arg(long, default_value = "500ms", value_parser = crate::flags::duration)]
    pub interval: Duration,
}

/// One line per request: `seq at partner method path[?query] status [code] [replayed]
/// [fault=id] duration`.
pub fn line(e: &JournalEntry) -> String {
    let mut s = format!(
        "{} {} {} {} {}",
        e.seq,
        e.at,
        e.partner.as_deref().unwrap_or("-"),
        e.method,
        e.path
    );
    if let Some(q) = &e.query {
        s.push('?');
        s.push_str(q);
    }
    match e.status {
        Some(status) => s.push_str(&format!(" {status}")),
        None => s.push_str(" (no answer)"),
    }
    if let Some(code) = e.code {
        s.push_str(&format!(" code={code}"));
    }
    if e.replayed {
        s.push_str(" replayed");
    }
    if let Some(f) = &e.fault_id {
        s.push_str(&format!(" fault={f}"));
    }
    s.push_str(&format!(" {:.1}ms", e.duration_ms));
    s
}

pub async fn journal(admin: Admin<'_>, args: JournalArgs, out: Output) -> Result<(), Failure> {
    let journal = admin.journal();
    let mut after = args.after;
    let mut warned = 0;
    loop {
        let page = journal.list(args.partner.as_deref(), after, 1000).await?;
        if page.evicted > warned && after > 0 {
            errln!(
                "({} entries were evicted from the journal)",
                page.evicted - warned
            );
        }
        warned = page.evicted;
        for e in &page.entries {
            if out.json {
                outln!("{}", serde_json::to_string(e).unwrap_or_default())?;
            } else {
                outln!("{}", line(e))?;
            }
            after = e.seq;
        }
        if page.entries.len() == 1000 {
            continue;
        }
        if !args.follow {
            return Ok(());
        }
        tokio::time::sleep(args.interval).await;
    }
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// The partner tenant id (GUID)
    #[arg(long)]
    pub partner: String,
    /// Also write the checks as JUnit XML to this file (one test case per check)
    #[arg(long)]
    pub junit: Option<std::path::PathBuf>,
}

impl Tabular for Violation {
    const COLUMNS: &'static [&'static str] = &["CHECK", "REQUESTS", "DETAIL"];
    fn row(&self) -> Vec<String> {
        let seq: Vec<String> = self.seq.iter().map(u64::to_string).collect();
        vec![self.check.clone(), seq.join(","), self.detail.clone()]
    }
}

pub async fn checks(admin: Admin<'_>, args: ChecksArgs, out: Output) -> Result<(), Failure> {
    let checks = admin.partner(&args.partner).checks();
    let report = checks.get().await?;
    if let Some(path) = &args.junit {
        let xml = checks.junit().await?;
        std::fs::write(path, xml)
            .map_err(|e| Failure::usage(format!("writing {}: {e}", path.display())))?;
    }
    if out.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        )?;
    } else if !report.violations.is_empty() {
        out.list(&report.violations)?;
    }
    if !report.complete {
        // Passing on part of the traffic would pass on nothing at worst: say so and fail.
        errln!(
            "{} of partner {}'s requests left the journal before they were judged; raise \
             --journal-size or check sooner",
            report.evicted,
            args.partner
        );
    }
    if report.violations.is_empty() && report.complete {
        errln!("{} requests checked: no violations", report.requests);
        Ok(())
    } else if report.violations.is_empty() {
        Err(Failure::api(format!(
            "incomplete: {} requests of partner {} checked, {} evicted unjudged",
            report.requests, args.partner, report.evicted
        )))
    } else {
        Err(Failure::api(format!(
            "{} violation(s) in {} requests of partner {}",
            report.violations.len(),
            report.requests,
            args.partner
        )))
    }
}

#[cfg(test)]
mod tests {
    /// docs/testing.md shows the pytest example exactly as CI runs it.
    #[test]
    fn the_testing_guide_shows_the_example_ci_runs() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let guide = std::fs::read_to_string(format!("{root}/docs/testing.md")).unwrap();
        let example =
            std::fs::read_to_string(format!("{root}/docs/examples/test_lost_answer.py")).unwrap();
        assert!(
            guide.contains(&format!("```python\n{example}```")),
            "docs/testing.md must include docs/examples/test_lost_answer.py verbatim"
        );
    }
}
