//! The client commands (`qualify customers|qualifications|validations|validation-status`), built
//! on the Rust SDK (`qualify-client`). Tables for people by default, `--json` for scripts.
//!
//! The connection flags, the exit codes and the error output are those of every command that
//! calls a server (`crate::remote`), also in `--help` and the README.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use qualify_client::{
    Address, BillingProfile, Client, CompanyProfile, Customer, EducationSegment, NewCustomer,
    Qualification, QualificationRequest, ValidationType, WaitOptions,
};

use crate::remote::{ConnectionArgs, Failure, finish, one_of};
use crate::render::{Output, Tabular, opt};

/// Shown under `--help` of every client command.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 success; 1 the API answered with an error (on stderr; as JSON with --json); \
2 usage error; 3 server unreachable, timed out or unreadable answer; 4 `qualifications wait` timed out.";

/// Where the server is and who is calling; shared by every client command.
#[derive(Debug, Args)]
pub struct ClientArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The partner's bearer token (e.g. from `qualify token --tenant ...`)
    #[arg(
        long,
        env = "QUALIFY_TOKEN",
        hide_env_values = true,
        global = true,
        help_heading = "Connection and output"
    )]
    pub token: Option<String>,
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
        /// The qualification requested
        #[arg(long, value_parser = one_of(Qualification::KNOWN))]
        qualification: Qualification,
        /// Education: the kind of school
        #[arg(long, value_parser = one_of(EducationSegment::KNOWN))]
        segment: Option<EducationSegment>,
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
        #[arg(long, value_parser = one_of(Qualification::KNOWN))]
        qualification: Option<Qualification>,
        /// Give up after this long (exit code 4), e.g. 90s, 10m
        #[arg(long, default_value = "5m", value_parser = crate::flags::duration)]
        timeout: Duration,
        /// Pause between two looks (longer when the server says Retry-After)
        #[arg(long, default_value = "2s", value_parser = crate::flags::duration)]
        interval: Duration,
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
        #[arg(long = "type", default_value = "account", value_parser = one_of(ValidationType::KNOWN))]
        kind: ValidationType,
    },
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
    args.connection.connect(token)
}

impl Tabular for Customer {
    const COLUMNS: &'static [&'static str] = &["ID", "COMPANY", "DOMAIN", "RELATIONSHIP"];
    fn row(&self) -> Vec<String> {
        let company = self.company_profile.clone().unwrap_or_default();
        vec![
            self.id.clone(),
            opt(&company.company_name),
            opt(&company.domain),
            opt(&self.relationship_to_partner),
        ]
    }
}

/// `qualify customers ...`
pub async fn customers(args: CustomersArgs) -> ExitCode {
    let json = args.client.connection.json;
    finish(run_customers(args).await, json)
}

async fn run_customers(args: CustomersArgs) -> Result<(), Failure> {
    let client = client(&args.client)?;
    let out = Output::new(args.client.connection.json);
    match args.command {
        CustomersCommand::Create(create) => {
            let client = match &create.request_id {
                Some(id) => client.with_request_id(id),
                None => client,
            };
            let new = new_customer(*create)?;
            let customer = client.customers().create(&new).await?;
            out.one(&customer)?;
        }
        CustomersCommand::Get { id } => {
            let customer = client.customers().by_id(&id).get().await?;
            out.one(&customer)?;
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
            out.list(&items)?;
            if more {
                errln!("(more customers: pass --all to list every page)");
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

/// `qualify qualifications ...`
pub async fn qualifications(args: QualificationsArgs) -> ExitCode {
    let json = args.client.connection.json;
    finish(run_qualifications(args).await, json)
}

async fn run_qualifications(args: QualificationsArgs) -> Result<(), Failure> {
    let client = client(&args.client)?;
    let out = Output::new(args.client.connection.json);
    match args.command {
        QualificationsCommand::Create {
            customer,
            qualification,
            segment,
            website,
            validation_code,
            request_id,
        } => {
            let mut request = QualificationRequest::new(qualification);
            request.education_segment = segment;
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
            out.one(&created)?;
        }
        QualificationsCommand::List { customer } => {
            let items = client
                .customers()
                .by_id(&customer)
                .qualifications()
                .list()
                .await?;
            out.list(&items)?;
        }
        QualificationsCommand::Wait {
            customer,
            qualification,
            timeout,
            interval,
        } => {
            let options = WaitOptions {
                timeout,
                interval: interval.max(Duration::from_millis(50)),
            };
            let ops = client.customers().by_id(&customer).qualifications();
            let which = match qualification {
                Some(q) => q,
                None => match ops.list().await?.pop() {
                    Some(latest) => latest.qualification,
                    None => {
                        return Err(Failure::api(format!(
                            "the customer {customer} has no qualification request to wait for"
                        )));
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
            out.one(&decided)?;
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
    let out = Output::new(args.client.connection.json);
    let run = async {
        let client = client(&args.client)?;
        match args.command {
            ValidationsCommand::List => out.list(&client.validation_codes().list().await?),
        }
    };
    finish(run.await, out.json)
}

/// `qualify validation-status ...`
pub async fn validation_status(args: ValidationStatusArgs) -> ExitCode {
    let out = Output::new(args.client.connection.json);
    let run = async {
        let client = client(&args.client)?;
        match args.command {
            ValidationStatusCommand::Get { customer, kind } => {
                let status = client
                    .customers()
                    .by_id(&customer)
                    .validation_status(kind)
                    .get()
                    .await?;
                out.one(&status)
            }
        }
    };
    finish(run.await, out.json)
}
