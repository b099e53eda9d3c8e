//! A customer's qualifications (api.md 4.1 - 4.3), and waiting for vetting.

use std::time::Duration;

use reqwest::Method;

use crate::error::{Error, ErrorCategory, Result};
use crate::http::Call;
use crate::models::{
    Bare, CustomerQualification, LegacyQualification, Qualification, QualificationRequest,
};
use crate::ops::customer_ref::CustomerRef;

/// `client.customers().by_id(id).qualifications()`.
#[derive(Debug, Clone)]
pub struct Qualifications<'a> {
    customer: CustomerRef<'a>,
}

/// How long [`Qualifications::wait`] waits, and how often it looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Give up (with [`ErrorCategory::WaitTimedOut`]) after this long.
    pub timeout: Duration,
    /// The pause between two looks. A throttled look waits for its `Retry-After` instead when
    /// that is longer.
    pub interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            interval: Duration::from_secs(2),
        }
    }
}

impl<'a> Qualifications<'a> {
    pub(crate) fn new(customer: CustomerRef<'a>) -> Self {
        Self { customer }
    }

    /// `POST .../qualifications`: records the request (201, `InReview`); vetting follows
    /// asynchronously. Retried safely: every attempt carries the same `MS-RequestId`.
    pub async fn create(&self, request: &QualificationRequest) -> Result<CustomerQualification> {
        let segments = self.customer.segments(&["qualifications"]);
        let call = Call::new(Method::POST, &segments).json(request)?;
        self.customer.client().send(call).await
    }

    /// `GET .../qualifications`: every request of the customer, oldest first.
    pub async fn list(&self) -> Result<Vec<CustomerQualification>> {
        let segments = self.customer.segments(&["qualifications"]);
        self.customer.client().send(Call::get(&segments)).await
    }

    /// The customer's most recent request for `qualification`, if any.
    pub async fn latest(
        &self,
        qualification: &Qualification,
    ) -> Result<Option<CustomerQualification>> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .rev()
            .find(|q| &q.qualification == qualification))
    }

    /// Polls until the most recent request for `qualification` is Approved or Denied, and
    /// returns it. See [`Qualifications::wait_with_progress`].
    pub async fn wait(
        &self,
        qualification: &Qualification,
        options: WaitOptions,
    ) -> Result<CustomerQualification> {
        self.wait_with_progress(qualification, options, |_, _| {})
            .await
    }

    /// Like [`Qualifications::wait`], calling `progress` with each state seen and the time
    /// waited so far. Throttling and a busy server do not end the wait (it pauses for their
    /// `Retry-After`); other errors do. Past `options.timeout` the error has the category
    /// [`ErrorCategory::WaitTimedOut`].
    pub async fn wait_with_progress(
        &self,
        qualification: &Qualification,
        options: WaitOptions,
        mut progress: impl FnMut(&CustomerQualification, Duration),
    ) -> Result<CustomerQualification> {
        let started = tokio::time::Instant::now();
        let deadline = started + options.timeout;
        let mut last: Option<CustomerQualification> = None;
        let timed_out = |last: &Option<CustomerQualification>| {
            let state = last
                .as_ref()
                .map_or("no answer yet".to_owned(), |q| q.vetting_status.to_string());
            Error::new(
                ErrorCategory::WaitTimedOut,
                format!(
                    "{qualification} was not decided within {:?} (last seen: {state})",
                    options.timeout
                ),
            )
        };
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let look = tokio::time::timeout(remaining, self.latest(qualification)).await;
            let pause = match look {
                Err(_) => return Err(timed_out(&last)),
                Ok(Ok(Some(q))) => {
                    progress(&q, started.elapsed());
                    if q.vetting_status.is_terminal() {
                        return Ok(q);
                    }
                    last = Some(q);
                    options.interval
                }
                Ok(Ok(None)) => {
                    return Err(Error::new(
                        ErrorCategory::NotFound,
                        format!(
                            "the customer {} has no {qualification} request",
                            self.customer.id()
                        ),
                    ));
                }
                Ok(Err(e))
                    if matches!(
                        e.category(),
                        ErrorCategory::Throttled | ErrorCategory::ServerBusy
                    ) =>
                {
                    options.interval.max(e.retry_after().unwrap_or_default())
                }
                Ok(Err(e)) => return Err(e),
            };
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(timed_out(&last));
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
        }
    }
}

/// `client.customers().by_id(id).qualification()`: the contract Microsoft retired in 2021,
/// still called by old code.
#[derive(Debug, Clone)]
pub struct LegacyQualificationOperations<'a> {
    customer: CustomerRef<'a>,
}

impl<'a> LegacyQualificationOperations<'a> {
    pub(crate) fn new(customer: CustomerRef<'a>) -> Self {
        Self { customer }
    }

    /// `GET .../qualification`: the latest InReview or Approved value, else `none`.
    pub async fn get(&self) -> Result<LegacyQualification> {
        let segments = self.customer.segments(&["qualification"]);
        self.customer.client().send(Call::get(&segments)).await
    }

    /// `PUT .../qualification` with the value as a bare JSON string. GCC needs `code`, sent as
    /// the query parameter `code` as in the legacy contract.
    pub async fn update(
        &self,
        qualification: &LegacyQualification,
        code: Option<&str>,
    ) -> Result<LegacyQualification> {
        let segments = self.customer.segments(&["qualification"]);
        let mut call = Call::new(Method::PUT, &segments).json(&Bare(qualification.as_str()))?;
        if let Some(code) = code {
            call = call.query("code", code);
        }
        self.customer.client().send(call).await
    }
}
