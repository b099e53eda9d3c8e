//! The wire types of customers and their profiles (api.md 4.4): what `POST /v1/customers` and
//! `PUT .../profiles/billing` read (lower-case names: the body's keys arrive folded), and what
//! every customer answer writes (camelCase, nulls omitted), with Partner Center's `links` and
//! `attributes`.

use qualify_core::DomainError;
use qualify_core::customer::{
    self, BillingProfile, CompanyProfile, Customer, NewCustomer, domain_name, optional_email,
    optional_text,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::address::Address;
use crate::http::body::object;

/// `POST /v1/customers`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CustomerInput)]
pub struct CustomerIn {
    #[serde(default, deserialize_with = "object")]
    #[schema(rename = "companyProfile")]
    pub companyprofile: Option<CompanyProfileIn>,
    #[serde(default, deserialize_with = "object")]
    #[schema(rename = "billingProfile")]
    pub billingprofile: Option<BillingProfileIn>,
}

impl TryFrom<CustomerIn> for NewCustomer {
    type Error = DomainError;
    fn try_from(c: CustomerIn) -> Result<Self, DomainError> {
        let mut billing = BillingProfile::try_from(c.billingprofile.unwrap_or_default())?;
        let mut company = CompanyProfile::try_from(c.companyprofile.unwrap_or_default())?;
        // Partner Center fills one profile's company name from the other.
        if company.company_name.is_none() {
            company.company_name = billing.company_name.clone();
        }
        if billing.company_name.is_none() {
            billing.company_name = company.company_name.clone();
        }
        Ok(NewCustomer {
            company_profile: company,
            billing_profile: billing,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = CompanyProfileInput)]
pub struct CompanyProfileIn {
    /// A DNS domain name (what Education vetting looks at).
    #[schema(max_length = 253, example = "contoso.onmicrosoft.com")]
    pub domain: Option<String>,
    #[schema(rename = "companyName", max_length = 256)]
    pub companyname: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub address: Option<Address>,
    #[schema(rename = "organizationRegistrationNumber", max_length = 100)]
    pub organizationregistrationnumber: Option<String>,
}

impl TryFrom<CompanyProfileIn> for CompanyProfile {
    type Error = DomainError;
    fn try_from(c: CompanyProfileIn) -> Result<Self, DomainError> {
        Ok(CompanyProfile {
            domain: domain_name("companyProfile.domain", c.domain)?,
            company_name: optional_text("companyProfile.companyName", c.companyname, 256)?,
            email: optional_email("companyProfile.email", c.email)?,
            address: c.address.map(customer::Address::try_from).transpose()?,
            organization_registration_number: optional_text(
                "companyProfile.organizationRegistrationNumber",
                c.organizationregistrationnumber,
                100,
            )?,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = BillingProfileInput)]
pub struct BillingProfileIn {
    #[schema(rename = "firstName", max_length = 50)]
    pub firstname: Option<String>,
    #[schema(rename = "lastName", max_length = 50)]
    pub lastname: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 20, example = "en-US")]
    pub culture: Option<String>,
    #[schema(max_length = 20, example = "en")]
    pub language: Option<String>,
    #[schema(rename = "companyName", max_length = 256)]
    pub companyname: Option<String>,
    #[serde(default, deserialize_with = "object")]
    #[schema(rename = "defaultAddress")]
    pub defaultaddress: Option<Address>,
    /// Clients that read the profile send it back whole, `attributes.etag` included.
    #[serde(default, deserialize_with = "object")]
    pub attributes: Option<AttributesIn>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = AttributesInput)]
pub struct AttributesIn {
    /// The etag read with the profile; used when If-Match is absent.
    pub etag: Option<String>,
}

impl TryFrom<BillingProfileIn> for BillingProfile {
    type Error = DomainError;
    fn try_from(b: BillingProfileIn) -> Result<Self, DomainError> {
        Ok(BillingProfile {
            first_name: optional_text("billingProfile.firstName", b.firstname, 50)?,
            last_name: optional_text("billingProfile.lastName", b.lastname, 50)?,
            email: optional_email("billingProfile.email", b.email)?,
            culture: optional_text("billingProfile.culture", b.culture, 20)?,
            language: optional_text("billingProfile.language", b.language, 20)?,
            company_name: optional_text("billingProfile.companyName", b.companyname, 256)?,
            default_address: b
                .defaultaddress
                .map(customer::Address::try_from)
                .transpose()?,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Customer)]
pub struct CustomerOut {
    /// The customer's tenant id.
    #[schema(format = Uuid)]
    pub id: String,
    pub company_profile: CompanyProfileOut,
    pub billing_profile: BillingProfileOut,
    #[schema(example = "reseller")]
    pub relationship_to_partner: &'static str,
    pub links: Links,
    pub attributes: Attributes,
}

impl From<&Customer> for CustomerOut {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.to_string(),
            company_profile: CompanyProfileOut::new(c),
            billing_profile: BillingProfileOut::new(c),
            relationship_to_partner: "reseller",
            links: Links {
                self_: Link::get(format!("/customers/{}", c.id)),
                next: None,
            },
            attributes: Attributes {
                etag: None,
                object_type: "Customer",
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomerCompanyProfile)]
pub struct CompanyProfileOut {
    #[schema(format = Uuid)]
    pub tenant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub address: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization_registration_number: Option<String>,
    pub links: Links,
    pub attributes: Attributes,
}

impl CompanyProfileOut {
    pub fn new(c: &Customer) -> Self {
        let p: &CompanyProfile = &c.company_profile;
        Self {
            tenant_id: c.id.to_string(),
            domain: p.domain.clone(),
            company_name: p.company_name.clone(),
            email: p.email.clone(),
            address: p.address.as_ref().map(Address::from),
            organization_registration_number: p.organization_registration_number.clone(),
            links: Links {
                self_: Link::get(format!("/customers/{}/profiles/company", c.id)),
                next: None,
            },
            attributes: Attributes {
                etag: Some(c.company_etag.clone()),
                object_type: "CustomerCompanyProfile",
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomerBillingProfile)]
pub struct BillingProfileOut {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub culture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub default_address: Option<Address>,
    pub links: Links,
    pub attributes: Attributes,
}

impl BillingProfileOut {
    pub fn new(c: &Customer) -> Self {
        let p: &BillingProfile = &c.billing_profile;
        Self {
            id: c.id.to_string(),
            first_name: p.first_name.clone(),
            last_name: p.last_name.clone(),
            email: p.email.clone(),
            culture: p.culture.clone(),
            language: p.language.clone(),
            company_name: p.company_name.clone(),
            default_address: p.default_address.as_ref().map(Address::from),
            links: Links {
                self_: Link::get(format!("/customers/{}/profiles/billing", c.id)),
                next: None,
            },
            attributes: Attributes {
                etag: Some(c.billing_etag.clone()),
                object_type: "CustomerBillingProfile",
            },
        }
    }
}

/// A Partner Center collection (customers).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Collection)]
pub struct CollectionOut<T> {
    pub total_count: usize,
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub continuation_token: Option<String>,
    pub links: Links,
    pub attributes: Attributes,
}

/// `objectType` names the resource type; `etag` is its version where it has one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub etag: Option<String>,
    pub object_type: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LinkHeader)]
pub struct Header {
    pub key: &'static str,
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    pub uri: String,
    pub method: &'static str,
    pub headers: Vec<Header>,
}

impl Link {
    pub fn get(uri: String) -> Self {
        Link {
            uri,
            method: "GET",
            headers: vec![],
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    pub self_: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next: Option<Link>,
}
