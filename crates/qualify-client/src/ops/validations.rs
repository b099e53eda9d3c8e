//! The partner's GCC validation codes and a customer's account validation status (4.5, 4.6).

use crate::Client;
use crate::error::Result;
use crate::http::Call;
use crate::models::{ValidationCode, ValidationStatus, ValidationType};
use crate::ops::customer_ref::CustomerRef;

/// `client.validation_codes()`.
#[derive(Debug, Clone, Copy)]
pub struct ValidationCodes<'a> {
    client: &'a Client,
}

impl<'a> ValidationCodes<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `GET /v1/customers/all/validations`: the calling partner's codes.
    pub async fn list(&self) -> Result<Vec<ValidationCode>> {
        self.client
            .send(Call::get(&["v1", "customers", "all", "validations"]))
            .await
    }
}

/// `client.customers().by_id(id).validation_status(ValidationType::Account)`.
#[derive(Debug, Clone)]
pub struct ValidationStatusOperations<'a> {
    customer: CustomerRef<'a>,
    kind: ValidationType,
}

impl<'a> ValidationStatusOperations<'a> {
    pub(crate) fn new(customer: CustomerRef<'a>, kind: ValidationType) -> Self {
        Self { customer, kind }
    }

    /// `GET .../validationStatus?type=account`; a
    /// [`NotFound`](crate::ErrorCategory::NotFound) error with code 600074 when the customer
    /// has none.
    pub async fn get(&self) -> Result<ValidationStatus> {
        let segments = self.customer.segments(&["validationStatus"]);
        let call = Call::get(&segments).query("type", self.kind.as_str());
        self.customer.client().send(call).await
    }
}
