//! Partner Center's `Address` (api.md 4.4): the one shape of an address on the wire. The same
//! type is read from a request (property names matched case-insensitively: the body's keys
//! arrive folded to lower case, which the aliases accept; unknown properties ignored), written
//! in an answer and in a snapshot, and read from a fixture document (exact names; unknown keys
//! refused, by the fixture reader, from [`Address::unknown`]).

use std::collections::BTreeMap;

use qualify_core::DomainError;
use qualify_core::customer::{self, AddressInput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    rename = "AddressDoc",
    deny_unknown_fields,
    description = "Partner Center's `Address` (api.md 4.4)."
)]
pub struct Address {
    /// ISO 3166-1 alpha-2.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = true, nullable = false, pattern = "^[A-Za-z]{2}$")]
    #[schemars(with = "String")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 100)]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 100)]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 100)]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 100)]
    pub district: Option<String>,
    #[serde(alias = "addressline1", skip_serializing_if = "Option::is_none")]
    #[schema(required = true, nullable = false, min_length = 1, max_length = 200)]
    #[schemars(with = "String")]
    pub address_line1: Option<String>,
    #[serde(
        default,
        alias = "addressline2",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false, max_length = 200)]
    pub address_line2: Option<String>,
    #[serde(
        default,
        alias = "addressline3",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false, max_length = 200)]
    pub address_line3: Option<String>,
    #[serde(default, alias = "postalcode", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 20)]
    pub postal_code: Option<String>,
    #[serde(default, alias = "firstname", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 50)]
    pub first_name: Option<String>,
    #[serde(default, alias = "middlename", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 50)]
    pub middle_name: Option<String>,
    #[serde(default, alias = "lastname", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 50)]
    pub last_name: Option<String>,
    #[serde(
        default,
        alias = "emailaddress",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false, format = Email, max_length = 254)]
    pub email_address: Option<String>,
    #[serde(
        default,
        alias = "phonenumber",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false, max_length = 50)]
    pub phone_number: Option<String>,
    /// The properties this server does not know, by name (never written: empty in answers).
    #[serde(flatten)]
    #[schema(ignore)]
    #[schemars(skip)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

impl Address {
    /// The wire names of the properties, as a fixture's refusal of an unknown key lists them.
    pub const PROPERTIES: [&'static str; 14] = [
        "country",
        "region",
        "city",
        "state",
        "district",
        "addressLine1",
        "addressLine2",
        "addressLine3",
        "postalCode",
        "firstName",
        "middleName",
        "lastName",
        "emailAddress",
        "phoneNumber",
    ];
}

impl TryFrom<Address> for customer::Address {
    type Error = DomainError;
    fn try_from(a: Address) -> Result<Self, DomainError> {
        customer::Address::try_from(AddressInput {
            country: a.country,
            region: a.region,
            city: a.city,
            state: a.state,
            district: a.district,
            address_line1: a.address_line1,
            address_line2: a.address_line2,
            address_line3: a.address_line3,
            postal_code: a.postal_code,
            first_name: a.first_name,
            middle_name: a.middle_name,
            last_name: a.last_name,
            email_address: a.email_address,
            phone_number: a.phone_number,
        })
    }
}

impl From<&customer::Address> for Address {
    fn from(a: &customer::Address) -> Self {
        let a = a.clone();
        Self {
            country: Some(a.country),
            region: a.region,
            city: a.city,
            state: a.state,
            district: a.district,
            address_line1: Some(a.address_line1),
            address_line2: a.address_line2,
            address_line3: a.address_line3,
            postal_code: a.postal_code,
            first_name: a.first_name,
            middle_name: a.middle_name,
            last_name: a.last_name,
            email_address: a.email_address,
            phone_number: a.phone_number,
            unknown: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shape_reads_folded_and_exact_names_and_writes_camel_case() {
        let folded: Address = serde_json::from_value(serde_json::json!({
            "country": "US", "addressline1": "1 Microsoft Way", "postalcode": "98052",
            "attributes": {"objectType": "Address"}
        }))
        .unwrap();
        let exact: Address = serde_json::from_value(serde_json::json!({
            "country": "US", "addressLine1": "1 Microsoft Way", "postalCode": "98052"
        }))
        .unwrap();
        assert_eq!(folded.address_line1, exact.address_line1);
        assert_eq!(folded.postal_code.as_deref(), Some("98052"));
        assert_eq!(folded.unknown.keys().collect::<Vec<_>>(), ["attributes"]);
        assert!(exact.unknown.is_empty());
        let core = customer::Address::try_from(exact).unwrap();
        assert_eq!(
            serde_json::to_value(Address::from(&core)).unwrap(),
            serde_json::json!({"country": "US", "addressLine1": "1 Microsoft Way", "postalCode": "98052"})
        );
    }
}
