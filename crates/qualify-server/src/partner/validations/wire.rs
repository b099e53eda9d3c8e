//! The wire types of GCC validation codes and account validation statuses (api.md 4.5, 4.6).

use qualify_core::time_fmt::wire;
use qualify_core::validation::{ValidationCode, ValidationStatus};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::schemas::AccountStatusSchema;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ValidationCode)]
pub struct ValidationCodeOut {
    #[schema(format = Uuid)]
    pub partner_id: String,
    pub organization_name: String,
    /// What a partner sends as `validationCode`.
    pub validation_id: String,
    pub max_creates: i64,
    pub remaining_creates: i64,
    /// As Partner Center's reference spells it (the .NET SDK reads it, case-insensitively).
    pub e_tag: String,
    /// The same etag, as Microsoft's Java SDK reads it (its model's field is `etag`).
    pub etag: String,
}

impl From<&ValidationCode> for ValidationCodeOut {
    fn from(c: &ValidationCode) -> Self {
        Self {
            partner_id: c.partner_id.to_string(),
            organization_name: c.organization_name.clone(),
            validation_id: c.validation_id.clone(),
            max_creates: c.max_creates,
            remaining_creates: c.remaining_creates,
            e_tag: c.etag.clone(),
            etag: c.etag.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ValidationStatus)]
pub struct ValidationStatusOut {
    #[serde(rename = "type")]
    #[schema(pattern = "^account$")]
    pub kind: &'static str,
    #[schema(value_type = AccountStatusSchema)]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub last_update_date_time: String,
}

impl From<&ValidationStatus> for ValidationStatusOut {
    fn from(v: &ValidationStatus) -> Self {
        Self {
            kind: "account",
            status: v.status.name(),
            last_update_date_time: wire(v.last_update),
        }
    }
}
