//! `qualify admin ...`: the operator API (`/admin/v1`) through the Rust SDK (`client.admin()`),
//! with the connection flags, exit codes and output of the client commands (`crate::remote`,
//! `crate::render`): tables by default, `--json` for the API's own shapes.
//!
//! An operator command is one variant of [`AdminCommand`] (its flags typed, e.g.
//! `one_of(..)` for the API's enum values), one arm in [`call`] that makes one SDK call and hands
//! the answer to [`Output`], and a [`Tabular`] impl for a model printed for the first time.
//! `backup` and `restore` are the exception: they open the database, not a server. The test
//! control plane's state commands (`reset`, `fixtures`, `scenario`, `clock`) live in
//! [`crate::control`].

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use qualify_client::{
    AccountStatus, Admin, AuditEvent, Delivery, DeliveryStatus, GdapGrant, GdapRole,
    NewValidationCode, Qualification, Review, StreamItem, VettingDecision, VettingStatus,
};
use qualify_core::PartnerId;
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::{DevToken, Secret, mint_dev_token};

use crate::remote::{ConnectionArgs, Failure, finish, one_of};
use crate::render::{Output, Tabular, opt, when};

/// Under `--help` of `qualify admin` and of each of its commands.
pub const ADMIN_HELP: &str = "\
Credential: --token or QUALIFY_ADMIN_TOKEN, a token with the Qualify.Admin role (e.g. \
`qualify token --tenant <guid> --admin --app-only`). QUALIFY_TOKEN is never read: it holds the \
partner's token of the client commands. With neither, a dev admin token is minted with \
--dev-secret / QUALIFY_DEV_SECRET (the well-known dev secret by default), which a server in dev \
auth mode accepts. `backup` and `restore` open the database itself and need no server and no \
token.

Exit codes: 0 success; 1 the API answered with an error (on stderr; as one JSON object with \
--json); 2 usage error; 3 server unreachable, timed out or unreadable answer.";

fn with_admin_help(command: clap::Command) -> clap::Command {
    command
        .after_help(ADMIN_HELP)
        .mut_subcommands(with_admin_help)
}

#[derive(Debug, Args)]
#[command(after_help = ADMIN_HELP, mut_subcommands = with_admin_help)]
pub struct AdminArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// An operator's bearer token (role Qualify.Admin); without one, a dev admin token is minted
    #[arg(
        long,
        env = "QUALIFY_ADMIN_TOKEN",
        hide_env_values = true,
        global = true,
        help_heading = "Connection and output"
    )]
    pub token: Option<String>,
    /// The dev secret to mint the admin token with when there is no --token (must match the
    /// server's)
    #[arg(
        long,
        env = "QUALIFY_DEV_SECRET",
        hide_env_values = true,
        global = true,
        help_heading = "Connection and output"
    )]
    pub dev_secret: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The qualifications a request can be made for, and so decided and audited (api.md 4.1).
const SETTABLE: &[Qualification] = &[
    Qualification::Education,
    Qualification::GovernmentCommunityCloud,
    Qualification::StateOwnedEntity,
];

/// The delivery statuses the deliveries listing filters on.
const DELIVERY_FILTERS: &[DeliveryStatus] = &[
    DeliveryStatus::Pending,
    DeliveryStatus::Succeeded,
    DeliveryStatus::Dead,
    DeliveryStatus::Cancelled,
];

/// The decisions an operator can take.
const DECISIONS: &[VettingStatus] = &[VettingStatus::Approved, VettingStatus::Denied];

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// GCC validation codes of a partner
    #[command(subcommand)]
    ValidationCodes(CodesCommand),
    /// The review queue (oldest first; one page unless --all)
    Reviews {
        /// The vetting status of the requests to list
        #[arg(long, default_value = "InReview", value_parser = one_of(VettingStatus::KNOWN))]
        status: VettingStatus,
        /// Only requests for this qualification
        #[arg(long, value_parser = one_of(SETTABLE))]
        qualification: Option<Qualification>,
        /// Only this partner's requests (GUID)
        #[arg(long)]
        partner: Option<String>,
        /// Start after this cursor (printed on stderr when more follow)
        #[arg(long)]
        after: Option<String>,
        /// Requests per page, 1 to 500 (the server's default: 100)
        #[arg(long)]
        limit: Option<u32>,
        /// Follow every page to the end
        #[arg(long, conflicts_with = "after")]
        all: bool,
    },
    /// Transitions from the event stream, one line each: the ones after --after (default: all),
    /// then, with --follow, the live ones (reconnecting with the last seq) until interrupted
    Events {
        /// Only this partner's transitions (GUID)
        #[arg(long)]
        partner: Option<String>,
        /// Start after this seq (without --follow the default is 0: every transition; with
        /// --follow the default is now: the live ones)
        #[arg(long)]
        after: Option<i64>,
        /// Keep following live transitions
        #[arg(long)]
        follow: bool,
    },
    /// Decide a customer's qualification request
    Decide {
        /// The customer id (GUID)
        #[arg(long)]
        customer: String,
        /// The qualification requested
        #[arg(long, value_parser = one_of(SETTABLE))]
        qualification: Qualification,
        /// The decision
        #[arg(long, value_parser = one_of(DECISIONS))]
        status: VettingStatus,
        /// The reason the customer's partner reads (vettingReason)
        #[arg(long)]
        reason: Option<String>,
        /// The etag from the review queue; looked up there when absent
        #[arg(long)]
        etag: Option<String>,
    },
    /// Set a customer's account validation status
    ValidationStatus {
        /// The customer id (GUID)
        #[arg(long)]
        customer: String,
        /// The status the customer's partner then reads
        #[arg(long, value_parser = one_of(AccountStatus::KNOWN))]
        status: AccountStatus,
    },
    /// Set the GDAP roles the customer's partner holds over it (repeat --role; none clears)
    Gdap {
        /// The customer id (GUID)
        #[arg(long)]
        customer: String,
        #[arg(long = "role", value_parser = one_of(GdapRole::KNOWN))]
        roles: Vec<GdapRole>,
    },
    /// The audit history of a customer's qualification (oldest first)
    History {
        /// The customer id (GUID)
        #[arg(long)]
        customer: String,
        #[arg(long, value_parser = one_of(SETTABLE))]
        qualification: Qualification,
    },
    /// A partner's webhook deliveries, oldest first: their status, attempts and next attempt
    /// (docs/webhooks.md#operators-deliveries-and-redelivery)
    Deliveries {
        /// The partner tenant id (GUID)
        #[arg(long)]
        partner: String,
        /// Only deliveries in this status (default: all)
        #[arg(long, value_parser = one_of(DELIVERY_FILTERS))]
        status: Option<DeliveryStatus>,
    },
    /// Attempt a webhook delivery once more, now, with the same webhook-id (also a dead one)
    Redeliver {
        /// The delivery's id (from `qualify admin deliveries`)
        id: String,
    },
    /// Fault injection: rules that make /v1 requests fail, late, lost or changed
    /// (docs/testing.md#fault-injection)
    #[command(subcommand)]
    Faults(crate::traffic::FaultsCommand),
    /// The server's request journal, one line per /v1 request
    /// (docs/testing.md#the-request-journal)
    Journal(crate::traffic::JournalArgs),
    /// Check a partner's recorded traffic; exit 1 when the client broke a rule
    /// (docs/testing.md#client-checks)
    Checks(crate::traffic::ChecksArgs),
    /// Reset every partner (or one) to how the server started: empty, or what --seed loaded
    /// (docs/testing.md#reset)
    Reset(crate::control::ResetArgs),
    /// Fixture documents: snapshot, restore, seed, schema
    /// (docs/testing.md#fixtures-seed-snapshot-restore)
    #[command(subcommand)]
    Fixtures(crate::control::FixturesCommand),
    /// A partner's vetting scenario: set, get, clear (docs/testing.md#vetting-scenarios)
    #[command(subcommand)]
    Scenario(crate::control::ScenarioCommand),
    /// The virtual clock, global or a partner's: get, freeze, advance, resume, clear
    /// (docs/testing.md#advancing-time)
    Clock(crate::control::ClockArgs),
    /// Write a consistent copy of the database while the server keeps running (opens the
    /// database directly; PostgreSQL needs pg_dump on the PATH)
    Backup {
        /// The server's database URL: sqlite://FILE or postgres://...
        #[arg(long, env = "QUALIFY_DATABASE_URL")]
        database: String,
        /// The backup file to write; it must not exist
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Restore a backup into a new database (a SQLite file that does not exist yet, or an empty
    /// PostgreSQL database; PostgreSQL needs pg_restore on the PATH)
    Restore {
        /// The backup file
        #[arg(long)]
        from: std::path::PathBuf,
        /// The new database's URL (never read from the environment)
        #[arg(long)]
        database: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CodesCommand {
    /// Issue a new code to a partner
    Issue {
        /// The partner tenant id (GUID)
        #[arg(long)]
        partner: String,
        /// The organization the code is for
        #[arg(long)]
        organization: String,
        /// How many GCC requests the code allows
        #[arg(long, default_value_t = 1)]
        max_creates: i64,
    },
    /// List a partner's codes
    List {
        /// The partner tenant id (GUID)
        #[arg(long)]
        partner: String,
    },
}

/// `qualify admin ...`
pub async fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    let out = Output::new(args.connection.json);
    let command = match args.command {
        AdminCommand::Backup { database, to } => {
            return crate::backup::backup(&database, &to).await;
        }
        AdminCommand::Restore { from, database } => {
            return crate::backup::restore(&from, &database).await;
        }
        command => command,
    };
    let token = args
        .token
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| dev_admin_token(args.dev_secret));
    let result = async {
        let client = args.connection.connect(token)?;
        call(client.admin(), command, out).await
    };
    Ok(finish(result.await, out.json))
}

/// A short-lived app-only token with the admin role, signed with the dev secret.
fn dev_admin_token(dev_secret: Option<String>) -> String {
    mint_dev_token(
        &DevToken {
            tenant: PartnerId(uuid::Uuid::nil()),
            app_only: true,
            admin: true,
            upn: None,
            ttl: Duration::from_secs(600),
            audience: DEFAULT_AUDIENCE.into(),
        },
        &Secret::new(dev_secret.unwrap_or_else(|| DEFAULT_DEV_SECRET.into())),
    )
}

/// One operator command: one SDK call, its answer printed.
async fn call(admin: Admin<'_>, command: AdminCommand, out: Output) -> Result<(), Failure> {
    match command {
        AdminCommand::ValidationCodes(CodesCommand::Issue {
            partner,
            organization,
            max_creates,
        }) => {
            let code = NewValidationCode {
                organization_name: organization,
                max_creates,
            };
            out.one(
                &admin
                    .partner(partner)
                    .validation_codes()
                    .issue(&code)
                    .await?,
            )
        }
        AdminCommand::ValidationCodes(CodesCommand::List { partner }) => {
            out.list(&admin.partner(partner).validation_codes().list().await?)
        }
        AdminCommand::Reviews {
            status,
            qualification,
            partner,
            after,
            limit,
            all,
        } => {
            let mut query = admin.reviews().query().status(status);
            if let Some(q) = qualification {
                query = query.qualification(q);
            }
            if let Some(p) = partner {
                query = query.partner(p);
            }
            if let Some(a) = after {
                query = query.after(a);
            }
            if let Some(l) = limit {
                query = query.limit(l);
            }
            if all {
                return out.list(&query.all().await?);
            }
            let page = query.page().await?;
            out.list(&page.items)?;
            if let Some(next) = page.next {
                errln!("more follow: --after {next}");
            }
            Ok(())
        }
        AdminCommand::Events {
            partner,
            after,
            follow,
        } => events(admin, partner, after, follow, out).await,
        AdminCommand::Decide {
            customer,
            qualification,
            status,
            reason,
            etag,
        } => {
            let etag = match etag {
                Some(etag) => etag,
                None => etag_in_review(admin, &customer, &qualification).await?,
            };
            let decision = VettingDecision {
                vetting_status: status,
                vetting_reason: reason,
            };
            let q = admin.customer(customer).qualification(qualification);
            out.one(&q.decide(&decision, &etag).await?)
        }
        AdminCommand::ValidationStatus { customer, status } => out.one(
            &admin
                .customer(customer)
                .validation_status()
                .set(&status)
                .await?,
        ),
        AdminCommand::Gdap { customer, roles } => {
            out.one(&admin.customer(customer).gdap().set(&roles).await?)
        }
        AdminCommand::History {
            customer,
            qualification,
        } => {
            let q = admin.customer(customer).qualification(qualification);
            out.list(&q.history().await?)
        }
        AdminCommand::Deliveries { partner, status } => {
            out.list(&admin.partner(partner).deliveries(status).await?)
        }
        AdminCommand::Redeliver { id } => out.one(&admin.redeliver(&id).await?),
        AdminCommand::Faults(command) => crate::traffic::faults(admin, command, out).await,
        AdminCommand::Journal(args) => crate::traffic::journal(admin, args, out).await,
        AdminCommand::Checks(args) => crate::traffic::checks(admin, args, out).await,
        AdminCommand::Reset(args) => crate::control::reset(admin, args, out).await,
        AdminCommand::Fixtures(command) => crate::control::fixtures(admin, command, out).await,
        AdminCommand::Scenario(command) => crate::control::scenario(admin, command, out).await,
        AdminCommand::Clock(args) => crate::control::clock(admin, args, out).await,
        AdminCommand::Backup { .. } | AdminCommand::Restore { .. } => {
            unreachable!("backup and restore do not call a server")
        }
    }
}

/// `qualify admin events`: one line (or JSON object) per transition.
async fn events(
    admin: Admin<'_>,
    partner: Option<String>,
    after: Option<i64>,
    follow: bool,
    out: Output,
) -> Result<(), Failure> {
    let mut events = admin.events();
    if let Some(p) = partner {
        events = events.partner(p);
    }
    match (after, follow) {
        (Some(seq), _) => events = events.after(seq),
        (None, false) => events = events.after(0),
        (None, true) => {}
    }
    let mut stream = if follow {
        events.follow().await?
    } else {
        events.open().await?
    };
    while let Some(item) = stream.next().await {
        match item? {
            StreamItem::CaughtUp if !follow => return Ok(()),
            StreamItem::CaughtUp => {}
            StreamItem::Transition(t) => {
                let line = if out.json {
                    serde_json::to_string(&t).unwrap_or_default()
                } else {
                    format!(
                        "{:>8}  {}  {}  {}  {}  {} -> {}{}  ({})",
                        t.seq,
                        when(&t.at),
                        t.partner_id,
                        t.customer_id,
                        t.qualification,
                        t.from.as_ref().map_or("-".to_owned(), ToString::to_string),
                        t.to,
                        t.reason
                            .as_ref()
                            .map_or(String::new(), |r| format!(": {r}")),
                        t.actor
                    )
                };
                outln!("{line}")?;
            }
        }
    }
    Ok(())
}

/// The etag of the customer's request for `qualification` in the review queue.
async fn etag_in_review(
    admin: Admin<'_>,
    customer: &str,
    qualification: &Qualification,
) -> Result<String, Failure> {
    // Every page: the queue may hold more than one page of requests.
    let queue = admin
        .reviews()
        .query()
        .qualification(qualification.clone())
        .limit(500)
        .all()
        .await?;
    queue
        .into_iter()
        .find(|r| r.customer_id.eq_ignore_ascii_case(customer) && r.qualification == *qualification)
        .map(|r| r.etag)
        .ok_or_else(|| {
            Failure::api(format!(
                "no {qualification} request of customer {customer} is in review; pass --etag to decide anyway"
            ))
        })
}

impl Tabular for Review {
    const COLUMNS: &'static [&'static str] = &[
        "CUSTOMER",
        "QUALIFICATION",
        "VETTING STATUS",
        "CREATED",
        "ETAG",
        "SEGMENT",
        "WEBSITE",
        "PARTNER",
        "COMPANY",
    ];
    fn row(&self) -> Vec<String> {
        vec![
            self.customer_id.clone(),
            self.qualification.to_string(),
            self.vetting_status.to_string(),
            when(&self.vetting_create_date),
            self.etag.clone(),
            opt(&self.education_segment),
            opt(&self.website),
            self.partner_id.clone(),
            opt(&self.company_name),
        ]
    }
}

impl Tabular for AuditEvent {
    const COLUMNS: &'static [&'static str] = &["AT", "ACTOR", "FROM", "TO", "REASON", "REQUEST ID"];
    fn row(&self) -> Vec<String> {
        vec![
            when(&self.at),
            self.actor.clone(),
            opt(&self.from),
            self.to.to_string(),
            opt(&self.reason),
            opt(&self.request_id),
        ]
    }
}

impl Tabular for GdapGrant {
    const COLUMNS: &'static [&'static str] = &["CUSTOMER", "PARTNER", "ROLES", "UPDATED"];
    fn row(&self) -> Vec<String> {
        let roles: Vec<&str> = self.roles.iter().map(GdapRole::as_str).collect();
        vec![
            self.customer_id.clone(),
            self.partner_id.clone(),
            roles.join(", "),
            when(&self.updated_at),
        ]
    }
}

impl Tabular for Delivery {
    const COLUMNS: &'static [&'static str] = &[
        "ID",
        "EVENT",
        "CUSTOMER",
        "QUALIFICATION",
        "STATUS",
        "ATTEMPTS",
        "LAST RESULT",
        "NEXT ATTEMPT",
    ];
    fn row(&self) -> Vec<String> {
        let last =
            self.attempts
                .last()
                .map_or(String::new(), |a| match (a.response_code, &a.error) {
                    (Some(code), _) => code.to_string(),
                    (None, Some(error)) => error.clone(),
                    (None, None) => String::new(),
                });
        vec![
            self.id.clone(),
            self.event_name.to_string(),
            opt(&self.customer_id),
            opt(&self.qualification),
            self.status.to_string(),
            self.attempts.len().to_string(),
            last,
            when(&self.next_attempt_at),
        ]
    }
}

#[cfg(test)]
mod tests {
    /// docs/webhooks.md shows the receiver whose verification CI's webhook suite uses, as it is
    /// in the file.
    #[test]
    fn the_webhooks_guide_shows_the_receiver_ci_runs() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let guide = std::fs::read_to_string(format!("{root}/docs/webhooks.md")).unwrap();
        let receiver =
            std::fs::read_to_string(format!("{root}/docs/examples/webhook_receiver.py")).unwrap();
        assert!(
            guide.contains(&format!("```python\n{receiver}```")),
            "docs/webhooks.md must include docs/examples/webhook_receiver.py verbatim"
        );
    }
}
