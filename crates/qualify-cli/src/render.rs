//! How the commands that call a server print what it answered: a table for people by default,
//! with `--json` the API's own camelCase shape (the SDK's models serialize to it).
//!
//! A type the CLI prints implements [`Tabular`] (its columns and one row); [`Output`] then prints
//! one value or a list of them either way. The tables of models that several command families
//! print are here; the others live next to the commands that print them.

use comfy_table::{Table, presets};
use qualify_client::models::date;
use qualify_client::{CustomerQualification, ValidationCode, ValidationStatus};
use serde::Serialize;

use crate::remote::{EXIT_TRANSPORT, Failure};

/// A value shown as rows of a table.
pub trait Tabular: Serialize {
    /// The column titles, upper case.
    const COLUMNS: &'static [&'static str];
    /// The cells of this value's row, in the order of `COLUMNS`.
    fn row(&self) -> Vec<String>;
}

/// Prints answers as tables, or as JSON with `--json`.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// One value: a JSON object, or a table of one row.
    pub fn one<T: Tabular>(self, value: &T) -> Result<(), Failure> {
        if self.json {
            print_json(value)
        } else {
            print_table(std::slice::from_ref(value))
        }
    }

    /// A list: a JSON array, or a table (its header alone when the list is empty).
    pub fn list<T: Tabular>(self, values: &[T]) -> Result<(), Failure> {
        if self.json {
            print_json(&values)
        } else {
            print_table(values)
        }
    }
}

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure {
        exit: EXIT_TRANSPORT,
        message: format!("cannot print the answer as JSON: {e}"),
        error: None,
    })?;
    Ok(outln!("{text}")?)
}

fn print_table<T: Tabular>(values: &[T]) -> Result<(), Failure> {
    let mut t = table(T::COLUMNS);
    for v in values {
        t.add_row(v.row());
    }
    Ok(outln!("{}", t.trim_fmt())?)
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

/// An optional cell: empty when absent.
pub fn opt(v: &Option<impl ToString>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// A time cell (RFC 3339): empty when absent.
pub fn when(t: &Option<time::OffsetDateTime>) -> String {
    t.as_ref().map(date::format).unwrap_or_default()
}

impl Tabular for CustomerQualification {
    const COLUMNS: &'static [&'static str] =
        &["QUALIFICATION", "VETTING STATUS", "REASON", "CREATED"];
    fn row(&self) -> Vec<String> {
        vec![
            self.qualification.to_string(),
            self.vetting_status.to_string(),
            opt(&self.vetting_reason),
            when(&self.vetting_create_date),
        ]
    }
}

impl Tabular for ValidationCode {
    const COLUMNS: &'static [&'static str] = &["VALIDATION ID", "ORGANIZATION", "REMAINING", "MAX"];
    fn row(&self) -> Vec<String> {
        vec![
            self.validation_id.clone(),
            self.organization_name.clone(),
            self.remaining_creates.to_string(),
            self.max_creates.to_string(),
        ]
    }
}

impl Tabular for ValidationStatus {
    const COLUMNS: &'static [&'static str] = &["TYPE", "STATUS", "LAST UPDATE"];
    fn row(&self) -> Vec<String> {
        vec![
            self.kind.to_string(),
            self.status.to_string(),
            when(&self.last_update_date_time),
        ]
    }
}
