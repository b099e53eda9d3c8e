//! `qualify admin backup` and `qualify admin restore`: thin wrappers over
//! `qualify_store::backup`, printing its report as JSON.

use std::path::Path;
use std::process::ExitCode;

use qualify_store::backup::{self, BackupError};

fn finish(result: Result<backup::Report, BackupError>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(report) => {
            outln!("{}", serde_json::to_string_pretty(&report)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            errln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

pub async fn backup(database: &str, to: &Path) -> anyhow::Result<ExitCode> {
    finish(backup::backup(database, to).await)
}

pub async fn restore(from: &Path, database: &str) -> anyhow::Result<ExitCode> {
    finish(backup::restore(from, database).await)
}
