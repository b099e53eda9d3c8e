//! Customers and their profiles (api.md 4.4).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::DomainError;
use crate::ids::{CustomerId, PartnerId};

/// A postal address, validated. Field names follow Partner Center's `Address`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub country: String,
    pub region: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub district: Option<String>,
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub postal_code: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub email_address: Option<String>,
    pub phone_number: Option<String>,
}

/// An address as a client sent it, before validation.
#[derive(Debug, Clone, Default)]
pub struct AddressInput {
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub district: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub postal_code: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub email_address: Option<String>,
    pub phone_number: Option<String>,
}

/// Trims a free-text field, drops it when empty, and bounds its length.
pub fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(DomainError::invalid(format!(
            "{field} must be at most {max} characters."
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(DomainError::invalid(format!(
            "{field} must not contain control characters."
        )));
    }
    Ok(Some(v))
}

pub fn required_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<String, DomainError> {
    optional_text(field, value, max)?
        .ok_or_else(|| DomainError::invalid(format!("{field} is required.")))
}

impl TryFrom<AddressInput> for Address {
    type Error = DomainError;

    fn try_from(a: AddressInput) -> Result<Self, DomainError> {
        let country = required_text("address.country", a.country, 2)?;
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(DomainError::invalid(
                "address.country must be an ISO 3166-1 alpha-2 code such as US.",
            ));
        }
        Ok(Address {
            country: country.to_ascii_uppercase(),
            region: optional_text("address.region", a.region, 100)?,
            city: optional_text("address.city", a.city, 100)?,
            state: optional_text("address.state", a.state, 100)?,
            district: optional_text("address.district", a.district, 100)?,
            address_line1: required_text("address.addressLine1", a.address_line1, 200)?,
            address_line2: optional_text("address.addressLine2", a.address_line2, 200)?,
            address_line3: optional_text("address.addressLine3", a.address_line3, 200)?,
            postal_code: optional_text("address.postalCode", a.postal_code, 20)?,
            first_name: optional_text("address.firstName", a.first_name, 50)?,
            middle_name: optional_text("address.middleName", a.middle_name, 50)?,
            last_name: optional_text("address.lastName", a.last_name, 50)?,
            email_address: optional_email("address.emailAddress", a.email_address)?,
            phone_number: optional_text("address.phoneNumber", a.phone_number, 50)?,
        })
    }
}

pub fn optional_email(field: &str, value: Option<String>) -> Result<Option<String>, DomainError> {
    let v = optional_text(field, value, 254)?;
    if let Some(e) = &v {
        let ok = e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && !d.is_empty() && !e.contains(char::is_whitespace)
        });
        if !ok {
            return Err(DomainError::invalid(format!(
                "{field} must be an email address."
            )));
        }
    }
    Ok(v)
}

/// A DNS domain name: labels of letters, digits and hyphens.
pub fn domain_name(field: &str, value: Option<String>) -> Result<Option<String>, DomainError> {
    let Some(d) = optional_text(field, value, 253)? else {
        return Ok(None);
    };
    let d = d.to_ascii_lowercase();
    let ok = d.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    if !ok {
        return Err(DomainError::invalid(format!(
            "{field} must be a domain name such as contoso.onmicrosoft.com."
        )));
    }
    Ok(Some(d))
}

/// The company profile: what vetting reads (domain, name, address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyProfile {
    pub domain: Option<String>,
    pub company_name: Option<String>,
    pub email: Option<String>,
    pub address: Option<Address>,
    pub organization_registration_number: Option<String>,
}

/// The billing profile; updated with `If-Match` on its etag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingProfile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub culture: Option<String>,
    pub language: Option<String>,
    pub company_name: Option<String>,
    pub default_address: Option<Address>,
}

/// A stored customer of one partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub partner_id: PartnerId,
    pub company_profile: CompanyProfile,
    pub company_etag: String,
    pub billing_profile: BillingProfile,
    pub billing_etag: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What `POST /v1/customers` asks for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    pub company_profile: CompanyProfile,
    pub billing_profile: BillingProfile,
}

/// The host of a website given as a URL or a bare host name.
pub fn host_of(website: &str) -> Option<String> {
    let w = website.trim();
    let rest = w.split_once("://").map_or(w, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host
        .split(':')
        .next()?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AddressInput {
        AddressInput {
            country: Some("us".into()),
            address_line1: Some(" 1 Microsoft Way ".into()),
            city: Some("Redmond".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_address_is_normalised() {
        let a = Address::try_from(input()).unwrap();
        assert_eq!(a.country, "US");
        assert_eq!(a.address_line1, "1 Microsoft Way");
        assert_eq!(a.region, None);
    }

    #[test]
    fn required_fields_and_bounds() {
        assert!(
            Address::try_from(AddressInput {
                country: None,
                ..input()
            })
            .is_err()
        );
        assert!(
            Address::try_from(AddressInput {
                country: Some("USA".into()),
                ..input()
            })
            .is_err()
        );
        assert!(
            Address::try_from(AddressInput {
                country: Some("1A".into()),
                ..input()
            })
            .is_err()
        );
        assert!(
            Address::try_from(AddressInput {
                address_line1: Some("".into()),
                ..input()
            })
            .is_err()
        );
        assert!(
            Address::try_from(AddressInput {
                address_line1: Some("x".repeat(201)),
                ..input()
            })
            .is_err()
        );
        assert!(
            Address::try_from(AddressInput {
                address_line1: Some("x".repeat(200)),
                ..input()
            })
            .is_ok()
        );
        assert!(
            Address::try_from(AddressInput {
                first_name: Some("x".repeat(51)),
                ..input()
            })
            .is_err()
        );
        assert!(
            Address::try_from(AddressInput {
                email_address: Some("nope".into()),
                ..input()
            })
            .is_err()
        );
    }

    #[test]
    fn domains() {
        assert_eq!(
            domain_name("d", Some("Contoso.EDU".into()))
                .unwrap()
                .as_deref(),
            Some("contoso.edu")
        );
        assert!(domain_name("d", Some("bad domain".into())).is_err());
        assert!(domain_name("d", Some("a..b".into())).is_err());
        assert_eq!(domain_name("d", None).unwrap(), None);
    }
}
