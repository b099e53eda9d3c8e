//! `qualify admin ...`: the operator API from the command line. Prints the server's JSON;
//! exits 0 on success, 1 when the server answers with an error (its body on stderr), 2 on
//! usage errors (clap).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use qualify_core::PartnerId;
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::{DevToken, Secret, mint_dev_token};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server's base URL
    #[arg(
        long,
        env = "QUALIFY_BASE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub base_url: String,
    /// An admin bearer token; without one, a dev admin token is minted with the dev secret
    #[arg(long, env = "QUALIFY_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Dev secret used to mint the admin token when --token is absent
    #[arg(
        long,
        env = "QUALIFY_DEV_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub dev_secret: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// GCC validation codes of a partner
    #[command(subcommand)]
    ValidationCodes(CodesCommand),
    /// The review queue (oldest first)
    Reviews {
        /// InReview, Approved or Denied
        #[arg(long, default_value = "InReview")]
        status: String,
    },
    /// Decide a customer's qualification request (Approved or Denied)
    Decide {
        #[arg(long)]
        customer: String,
        /// Education, GovernmentCommunityCloud or StateOwnedEntity
        #[arg(long)]
        qualification: String,
        /// Approved or Denied
        #[arg(long)]
        status: String,
        #[arg(long)]
        reason: Option<String>,
        /// The etag from the review queue; looked up there when absent
        #[arg(long)]
        etag: Option<String>,
    },
    /// Set a customer's account validation status
    ValidationStatus {
        #[arg(long)]
        customer: String,
        /// Unknown, UnderReview, Allowed, NotAllowed or "Not Ready"
        #[arg(long)]
        status: String,
    },
    /// Set the GDAP roles the customer's partner holds over it (repeat --role; none clears)
    Gdap {
        #[arg(long)]
        customer: String,
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// The audit history of a customer's qualification
    History {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        qualification: String,
    },
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
        #[arg(long)]
        partner: String,
        #[arg(long)]
        organization: String,
        #[arg(long, default_value_t = 1)]
        max_creates: i64,
    },
    /// List a partner's codes
    List {
        #[arg(long)]
        partner: String,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> anyhow::Result<Result<Value, Value>> {
        let mut req = self
            .http
            .request(
                method,
                format!("{}{}", self.base.trim_end_matches('/'), path),
            )
            .bearer_auth(&self.token)
            .header("MS-CorrelationId", uuid::Uuid::new_v4().to_string());
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(e) = if_match {
            req = req.header("If-Match", e);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("calling {}", self.base))?;
        let ok = resp.status().is_success();
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        Ok(if ok { Ok(value) } else { Err(value) })
    }
}

fn print(result: Result<Value, Value>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}", serde_json::to_string_pretty(&e)?);
            Ok(ExitCode::from(1))
        }
    }
}

pub async fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    // Backup and restore work on the database itself, not through the server.
    match &args.command {
        AdminCommand::Backup { database, to } => return crate::backup::backup(database, to).await,
        AdminCommand::Restore { from, database } => {
            return crate::backup::restore(from, database).await;
        }
        _ => {}
    }
    let token = match args.token {
        Some(t) => t,
        None => mint_dev_token(
            &DevToken {
                tenant: PartnerId(uuid::Uuid::nil()),
                app_only: true,
                admin: true,
                upn: None,
                ttl: Duration::from_secs(600),
                audience: DEFAULT_AUDIENCE.into(),
            },
            &Secret::new(args.dev_secret.unwrap_or_else(|| DEFAULT_DEV_SECRET.into())),
        ),
    };
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        base: args.base_url,
        token,
    };
    let result = match args.command {
        AdminCommand::ValidationCodes(CodesCommand::Issue {
            partner,
            organization,
            max_creates,
        }) => {
            let body = json!({"organizationName": organization, "maxCreates": max_creates});
            client
                .call(
                    Method::POST,
                    &format!("/admin/v1/partners/{partner}/validations"),
                    Some(body),
                    None,
                )
                .await?
        }
        AdminCommand::ValidationCodes(CodesCommand::List { partner }) => {
            client
                .call(
                    Method::GET,
                    &format!("/admin/v1/partners/{partner}/validations"),
                    None,
                    None,
                )
                .await?
        }
        AdminCommand::Reviews { status } => {
            client
                .call(
                    Method::GET,
                    &format!("/admin/v1/reviews?status={status}"),
                    None,
                    None,
                )
                .await?
        }
        AdminCommand::Decide {
            customer,
            qualification,
            status,
            reason,
            etag,
        } => {
            let etag = match etag {
                Some(e) => e,
                None => find_etag(&client, &customer, &qualification).await?,
            };
            let body = json!({"vettingStatus": status, "vettingReason": reason});
            let path =
                format!("/admin/v1/customers/{customer}/qualifications/{qualification}/decision");
            client
                .call(Method::POST, &path, Some(body), Some(&etag))
                .await?
        }
        AdminCommand::ValidationStatus { customer, status } => {
            client
                .call(
                    Method::PUT,
                    &format!("/admin/v1/customers/{customer}/validationStatus"),
                    Some(json!({"status": status})),
                    None,
                )
                .await?
        }
        AdminCommand::Gdap { customer, roles } => {
            client
                .call(
                    Method::PUT,
                    &format!("/admin/v1/customers/{customer}/gdap"),
                    Some(json!({"roles": roles})),
                    None,
                )
                .await?
        }
        AdminCommand::History {
            customer,
            qualification,
        } => {
            let path =
                format!("/admin/v1/customers/{customer}/qualifications/{qualification}/history");
            client.call(Method::GET, &path, None, None).await?
        }
        AdminCommand::Backup { .. } | AdminCommand::Restore { .. } => {
            unreachable!("handled above")
        }
    };
    print(result)
}

/// The etag of the customer's open request for `qualification`, from the review queue.
async fn find_etag(client: &Client, customer: &str, qualification: &str) -> anyhow::Result<String> {
    let queue = match client
        .call(Method::GET, "/admin/v1/reviews?status=InReview", None, None)
        .await?
    {
        Ok(v) => v,
        Err(e) => anyhow::bail!("reading the review queue failed: {e}"),
    };
    queue
        .as_array()
        .into_iter()
        .flatten()
        .find(|item| {
            item["customerId"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(customer))
                && item["qualification"].as_str().is_some_and(|q| q.eq_ignore_ascii_case(qualification))
        })
        .and_then(|item| item["etag"].as_str().map(str::to_owned))
        .with_context(|| format!("no {qualification} request of customer {customer} is in review; pass --etag to decide anyway"))
}
