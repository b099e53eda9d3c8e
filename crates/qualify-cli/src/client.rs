//! The client commands (`qualify customers|qualifications|validations|validation-status`), built
//! on the Rust SDK (`qualify-client`). Tables for people by default, `--json` for scripts.
//!
//! Exit codes (also in `--help` and the README):
//! 0 success; 1 the API answered with an error; 2 usage error; 3 the server could not be
//! reached or gave an unreadable answer; 4 `qualifications wait` timed out.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use comfy_table::{Table, presets};
use qualify_client::models::date;
use qualify_client::{
    Address, BillingProfile, Client, CompanyProfile, Customer, CustomerQualification,
    EducationSegment, Error, ErrorCategory, NewCustomer, Qualification, QualificationRequest,
    ValidationCode, ValidationStatus, ValidationType, WaitOptions,
};
use serde::Serialize;

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

/// Shown under `--help` of every client command.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 success; 1 the API answered with an error (on stderr; as JSON with --json); \
2 usage error; 3 server unreachable, timed out or unreadable answer; 4 `qualifications wait` timed out.";

/// Where the server is and who is calling; shared by every client command.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The server's base URL
    #[arg(
        long,
        env = "QUALIFY_BASE_URL",
        default_value = qualify_client::DEFAULT_BASE_URL,
        global = true
    )]
    pub base_url: String,
    /// The partner's bearer token (e.g. from `qualify token --tenant ...`)
    #[arg(long, env = "QUALIFY_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print JSON (the API's camelCase shapes) instead of tables; errors go to stderr as JSON
    #[arg(long, global = true)]
    pub json: bool,
    /// Time one HTTP attempt may take, e.g. 30s
    #[arg(long, default_value = "30s", global = true)]
    pub request_timeout: String,
    /// Attempts per call (retries on 429, 5xx and connection errors; 1 turns retries off)
    #[arg(long, default_value_t = 4, global = true)]
    pub max_attempts: u32,
}

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct CustomersArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: CustomersCommand,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Create a customer of the calling partner
    #[command(after_help = EXIT_CODES_HELP)]
    Create(Box<CreateCustomer>),
    /// Show one customer
    #[command(after_help = EXIT_CODES_HELP)]
    Get {
        /// The customer id (GUID)
        id: String,
    },
    /// List the partner's customers
    #[command(after_help = EXIT_CODES_HELP)]
    List {
        /// Page size (1..500)
        #[arg(long)]
        size: Option<u32>,
        /// Follow the continuation links and list every page
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateCustomer {
    /// The whole request body as JSON (a file, or - for stdin) instead of the flags below
    #[arg(long, conflicts_with_all = ["domain", "company_name", "country", "address_line1"])]
    pub file: Option<String>,
    /// Company domain, e.g. contoso.onmicrosoft.com
    #[arg(long)]
    pub domain: Option<String>,
    #[arg(long)]
    pub company_name: Option<String>,
    /// The company's email
    #[arg(long)]
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2 country of the address, e.g. US
    #[arg(long)]
    pub country: Option<String>,
    #[arg(long)]
    pub address_line1: Option<String>,
    #[arg(long)]
    pub city: Option<String>,
    #[arg(long)]
    pub state: Option<String>,
    #[arg(long)]
    pub postal_code: Option<String>,
    /// Billing contact
    #[arg(long)]
    pub first_name: Option<String>,
    #[arg(long)]
    pub last_name: Option<String>,
    #[arg(long)]
    pub billing_email: Option<String>,
    #[arg(long)]
    pub culture: Option<String>,
    #[arg(long)]
    pub language: Option<String>,
    /// MS-RequestId to send: running the same command again with the same id is answered
    /// from the server's idempotency record instead of creating a second customer
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct QualificationsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: QualificationsCommand,
}

#[derive(Debug, Subcommand)]
pub enum QualificationsCommand {
    /// Request a qualification for a customer (201 InReview; vetting follows)
    #[command(after_help = EXIT_CODES_HELP)]
    Create {
        /// The customer id (GUID)
        #[arg(long)]
        customer: String,
        /// Education, GovernmentCommunityCloud or StateOwnedEntity
        #[arg(long)]
        qualification: String,
        /// Education: K12 or HigherEducation
        #[arg(long)]
        segment: Option<String>,
        /// Education: the school's website
        #[arg(long)]
        website: Option<String>,
        /// GovernmentCommunityCloud: one of the partner's validation codes
        #[arg(long)]
        validation_code: Option<String>,
        /// MS-RequestId to send (the idempotency key); reuse it to retry safely
        #[arg(long)]
        request_id: Option<String>,
    },
    /// List a customer's qualification requests, oldest first
    #[command(after_help = EXIT_CODES_HELP)]
    List {
        /// The customer id (GUID)
        #[arg(long)]
        customer: String,
    },
    /// Wait until vetting of the customer's latest request is Approved or Denied
    #[command(after_help = EXIT_CODES_HELP)]
    Wait {
        /// The customer id (GUID)
        #[arg(long)]
        customer: String,
        /// Which qualification; by default the customer's most recent request
        #[arg(long)]
        qualification: Option<String>,
        /// Give up after this long (exit code 4), e.g. 90s, 10m
        #[arg(long, default_value = "5m")]
        timeout: String,
        /// Pause between two looks (longer when the server says Retry-After)
        #[arg(long, default_value = "2s")]
        interval: String,
    },
}

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct ValidationsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: ValidationsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ValidationsCommand {
    /// The partner's GCC validation codes
    #[command(after_help = EXIT_CODES_HELP)]
    List,
}

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct ValidationStatusArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: ValidationStatusCommand,
}

#[derive(Debug, Subcommand)]
pub enum ValidationStatusCommand {
    /// A customer's account validation status
    #[command(after_help = EXIT_CODES_HELP)]
    Get {
        /// The customer id (GUID)
        #[arg(long)]
        customer: String,
        /// The validation type
        #[arg(long = "type", default_value = "account")]
        kind: String,
    },
}

/// A failure of a client command, already mapped to its exit code.
struct Failure {
    exit: u8,
    message: String,
    error: Option<Error>,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: EXIT_USAGE,
            message: message.into(),
            error: None,
        }
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
fn report(failure: &Failure, json: bool) -> ExitCode {
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
        eprintln!("{body}");
    } else {
        eprintln!("error: {}", failure.message);
    }
    ExitCode::from(failure.exit)
}

fn client(args: &ClientArgs) -> Result<Client, Failure> {
    let token = args
        .token
        .clone()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Failure::usage(
                "a token is required: pass --token or set QUALIFY_TOKEN (e.g. TOKEN=$(qualify token --tenant <partner-guid>))",
            )
        })?;
    let timeout = crate::cli::parse_duration("--request-timeout", &args.request_timeout)
        .map_err(|e| Failure::usage(e.to_string()))?;
    Ok(Client::builder()
        .base_url(&args.base_url)
        .token(token)
        .timeout(timeout)
        .max_attempts(args.max_attempts)
        .application_name("qualify-cli")
        .build()?)
}

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure {
        exit: EXIT_TRANSPORT,
        message: format!("cannot print the answer as JSON: {e}"),
        error: None,
    })?;
    println!("{text}");
    Ok(())
}

/// A borderless table: columns separated by two spaces, like `kubectl get`.
fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING).set_header(header.to_vec());
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    t
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn when(t: &Option<time::OffsetDateTime>) -> String {
    t.as_ref().map(date::format).unwrap_or_default()
}

fn print_customers(customers: &[Customer]) {
    let mut t = table(&["ID", "COMPANY", "DOMAIN", "RELATIONSHIP"]);
    for c in customers {
        let company = c.company_profile.clone().unwrap_or_default();
        t.add_row(vec![
            c.id.clone(),
            opt(&company.company_name),
            opt(&company.domain),
            opt(&c.relationship_to_partner),
        ]);
    }
    println!("{}", t.trim_fmt());
}

fn print_qualifications(items: &[CustomerQualification]) {
    let mut t = table(&["QUALIFICATION", "VETTING STATUS", "REASON", "CREATED"]);
    for q in items {
        t.add_row(vec![
            q.qualification.to_string(),
            q.vetting_status.to_string(),
            opt(&q.vetting_reason),
            when(&q.vetting_create_date),
        ]);
    }
    println!("{}", t.trim_fmt());
}

fn print_codes(codes: &[ValidationCode]) {
    let mut t = table(&["VALIDATION ID", "ORGANIZATION", "REMAINING", "MAX"]);
    for c in codes {
        t.add_row(vec![
            c.validation_id.clone(),
            c.organization_name.clone(),
            c.remaining_creates.to_string(),
            c.max_creates.to_string(),
        ]);
    }
    println!("{}", t.trim_fmt());
}

fn print_status(s: &ValidationStatus) {
    let mut t = table(&["TYPE", "STATUS", "LAST UPDATE"]);
    t.add_row(vec![
        s.kind.to_string(),
        s.status.to_string(),
        when(&s.last_update_date_time),
    ]);
    println!("{}", t.trim_fmt());
}

/// `qualify customers ...`
pub async fn customers(args: CustomersArgs) -> ExitCode {
    let json = args.client.json;
    match run_customers(args).await {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => report(&f, json),
    }
}

async fn run_customers(args: CustomersArgs) -> Result<(), Failure> {
    let client = client(&args.client)?;
    let json = args.client.json;
    match args.command {
        CustomersCommand::Create(create) => {
            let client = match &create.request_id {
                Some(id) => client.with_request_id(id),
                None => client,
            };
            let new = new_customer(*create)?;
            let customer = client.customers().create(&new).await?;
            if json {
                print_json(&customer)?;
            } else {
                print_customers(std::slice::from_ref(&customer));
            }
        }
        CustomersCommand::Get { id } => {
            let customer = client.customers().by_id(&id).get().await?;
            if json {
                print_json(&customer)?;
            } else {
                print_customers(std::slice::from_ref(&customer));
            }
        }
        CustomersCommand::List { size, all } => {
            let customers = client.customers();
            let (items, more) = if all {
                (customers.list_all().await?, false)
            } else {
                let page = match size {
                    Some(n) => customers.list_with_size(n).await?,
                    None => customers.list().await?,
                };
                let more = page.continuation().is_some();
                (page.items, more)
            };
            if json {
                print_json(&items)?;
            } else {
                print_customers(&items);
            }
            if more {
                eprintln!("(more customers: pass --all to list every page)");
            }
        }
    }
    Ok(())
}

fn new_customer(c: CreateCustomer) -> Result<NewCustomer, Failure> {
    if let Some(file) = &c.file {
        let text = if file == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(file)
        }
        .map_err(|e| Failure::usage(format!("cannot read {file}: {e}")))?;
        return serde_json::from_str(&text)
            .map_err(|e| Failure::usage(format!("{file} is not a customer JSON body: {e}")));
    }
    let address = (c.country.is_some() || c.address_line1.is_some()).then(|| Address {
        country: c.country.clone().unwrap_or_default(),
        address_line1: c.address_line1.clone().unwrap_or_default(),
        city: c.city.clone(),
        state: c.state.clone(),
        postal_code: c.postal_code.clone(),
        ..Address::default()
    });
    Ok(NewCustomer {
        company_profile: Some(CompanyProfile {
            domain: c.domain,
            company_name: c.company_name.clone(),
            email: c.email,
            address: address.clone(),
            ..CompanyProfile::default()
        }),
        billing_profile: Some(BillingProfile {
            first_name: c.first_name,
            last_name: c.last_name,
            email: c.billing_email,
            culture: c.culture,
            language: c.language,
            company_name: c.company_name,
            default_address: address,
            ..BillingProfile::default()
        }),
    })
}

/// A qualification name from the command line: a known value, case-insensitively.
fn qualification(raw: &str) -> Result<Qualification, Failure> {
    match Qualification::parse(raw) {
        Qualification::Other(_) => Err(Failure::usage(format!(
            "--qualification {raw:?} is not one of Education, GovernmentCommunityCloud, StateOwnedEntity"
        ))),
        q => Ok(q),
    }
}

/// `qualify qualifications ...`
pub async fn qualifications(args: QualificationsArgs) -> ExitCode {
    let json = args.client.json;
    match run_qualifications(args).await {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => report(&f, json),
    }
}

async fn run_qualifications(args: QualificationsArgs) -> Result<(), Failure> {
    let client = client(&args.client)?;
    let json = args.client.json;
    match args.command {
        QualificationsCommand::Create {
            customer,
            qualification: name,
            segment,
            website,
            validation_code,
            request_id,
        } => {
            let mut request = QualificationRequest::new(qualification(&name)?);
            request.education_segment = match segment {
                Some(s) => match EducationSegment::parse(&s) {
                    EducationSegment::Other(_) => {
                        return Err(Failure::usage(format!(
                            "--segment {s:?} is not K12 or HigherEducation"
                        )));
                    }
                    known => Some(known),
                },
                None => None,
            };
            request.website = website;
            request.validation_code = validation_code;
            let client = match &request_id {
                Some(id) => client.with_request_id(id),
                None => client,
            };
            let created = client
                .customers()
                .by_id(&customer)
                .qualifications()
                .create(&request)
                .await?;
            if json {
                print_json(&created)?;
            } else {
                print_qualifications(std::slice::from_ref(&created));
            }
        }
        QualificationsCommand::List { customer } => {
            let items = client
                .customers()
                .by_id(&customer)
                .qualifications()
                .list()
                .await?;
            if json {
                print_json(&items)?;
            } else {
                print_qualifications(&items);
            }
        }
        QualificationsCommand::Wait {
            customer,
            qualification: name,
            timeout,
            interval,
        } => {
            let options = WaitOptions {
                timeout: crate::cli::parse_duration("--timeout", &timeout)
                    .map_err(|e| Failure::usage(e.to_string()))?,
                interval: crate::cli::parse_duration("--interval", &interval)
                    .map_err(|e| Failure::usage(e.to_string()))?
                    .max(Duration::from_millis(50)),
            };
            let ops = client.customers().by_id(&customer).qualifications();
            let which = match name {
                Some(n) => qualification(&n)?,
                None => match ops.list().await?.pop() {
                    Some(latest) => latest.qualification,
                    None => {
                        return Err(Failure {
                            exit: EXIT_API_ERROR,
                            message: format!(
                                "the customer {customer} has no qualification request to wait for"
                            ),
                            error: None,
                        });
                    }
                },
            };
            let progress = Progress::new();
            let result = ops
                .wait_with_progress(&which, options, |q, waited| {
                    progress.show(&format!(
                        "{}: {} ({}s)",
                        q.qualification,
                        q.vetting_status,
                        waited.as_secs()
                    ))
                })
                .await;
            progress.finish();
            let decided = result?;
            if json {
                print_json(&decided)?;
            } else {
                print_qualifications(std::slice::from_ref(&decided));
            }
        }
    }
    Ok(())
}

/// A spinner line on stderr, only when stderr is a terminal (never in logs or pipes).
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("waiting for vetting");
        Self(Some(bar))
    }

    fn show(&self, message: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.to_owned());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// `qualify validations ...`
pub async fn validations(args: ValidationsArgs) -> ExitCode {
    let json = args.client.json;
    let run = async {
        let client = client(&args.client)?;
        match args.command {
            ValidationsCommand::List => {
                let codes = client.validation_codes().list().await?;
                if json {
                    print_json(&codes)?;
                } else {
                    print_codes(&codes);
                }
            }
        }
        Ok::<(), Failure>(())
    };
    match run.await {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => report(&f, json),
    }
}

/// `qualify validation-status ...`
pub async fn validation_status(args: ValidationStatusArgs) -> ExitCode {
    let json = args.client.json;
    let run = async {
        let client = client(&args.client)?;
        match args.command {
            ValidationStatusCommand::Get { customer, kind } => {
                let kind = match ValidationType::parse(&kind) {
                    ValidationType::Other(k) => {
                        return Err(Failure::usage(format!("--type {k:?} is not account")));
                    }
                    known => known,
                };
                let status = client
                    .customers()
                    .by_id(&customer)
                    .validation_status(kind)
                    .get()
                    .await?;
                if json {
                    print_json(&status)?;
                } else {
                    print_status(&status);
                }
            }
        }
        Ok::<(), Failure>(())
    };
    match run.await {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => report(&f, json),
    }
}
