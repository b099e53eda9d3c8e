//! Wire types. `input` types have lower-case field names because request keys are folded to
//! lower case before deserialising (case-insensitive matching); they become domain types through
//! `TryFrom`, so invalid input never reaches storage. `output` types are camelCase with nulls
//! omitted.

pub mod input {
    use qualify_core::customer::{
        Address, AddressInput, BillingProfile, CompanyProfile, NewCustomer, domain_name,
        optional_email, optional_text,
    };
    use qualify_core::qualification::{
        DecisionStatus, EducationSegment, Qualification, VettingDecision,
    };
    use qualify_core::rules::{Contract, QualificationRequest};
    use qualify_core::validation::{AccountStatus, GdapRole, MAX_CREATES_LIMIT};
    use qualify_core::{DomainError, ErrorKind};
    use serde::de::{DeserializeOwned, Error as _};
    use serde::{Deserialize, Deserializer};

    /// An optional nested object. Serde would also fill a struct from a JSON array (fields by
    /// position); the contract only has objects, so anything but an object or null is invalid.
    fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
        match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v @ serde_json::Value::Object(_)) => {
                T::deserialize(v).map(Some).map_err(D::Error::custom)
            }
            Some(_) => Err(D::Error::custom("expected a JSON object")),
        }
    }

    /// A string field that also accepts a number (GCC codes are documented as `int`).
    #[derive(Debug, Clone, Deserialize)]
    #[serde(untagged)]
    pub enum StringOrNumber {
        S(String),
        N(serde_json::Number),
    }

    impl StringOrNumber {
        pub fn into_string(self) -> String {
            match self {
                StringOrNumber::S(s) => s,
                StringOrNumber::N(n) => n.to_string(),
            }
        }
    }

    /// `POST /v1/customers/{id}/qualifications`.
    #[derive(Debug, Deserialize)]
    pub struct QualificationIn {
        pub qualification: Option<String>,
        pub educationsegment: Option<String>,
        pub website: Option<String>,
        pub validationcode: Option<StringOrNumber>,
    }

    impl QualificationIn {
        /// `query_code` is the legacy `?code=`; the body's `validationCode` wins over it.
        pub fn into_request(
            self,
            query_code: Option<String>,
        ) -> Result<QualificationRequest, DomainError> {
            let name = self
                .qualification
                .ok_or_else(|| DomainError::invalid("qualification is required."))?;
            let q = Qualification::parse(&name).ok_or_else(|| {
                DomainError::invalid(format!(
                    "qualification {name:?} is not a CustomerQualification value (Education, GovernmentCommunityCloud, StateOwnedEntity)."
                ))
            })?;
            let settable = q.settable()?;
            let segment = match self.educationsegment {
                Some(s) => Some(EducationSegment::parse(&s).ok_or_else(|| {
                    DomainError::invalid(format!(
                        "educationSegment {s:?} is not one of K12, HigherEducation."
                    ))
                })?),
                None => None,
            };
            let code = self
                .validationcode
                .map(StringOrNumber::into_string)
                .or(query_code);
            QualificationRequest::new(settable, segment, self.website, code, Contract::Current)
        }
    }

    /// The legacy `PUT /qualification` body: a bare string, or an object with `qualification`.
    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    pub enum LegacyQualificationIn {
        Bare(String),
        Object { qualification: String },
    }

    impl LegacyQualificationIn {
        pub fn into_request(
            self,
            query_code: Option<String>,
        ) -> Result<QualificationRequest, DomainError> {
            let name = match self {
                LegacyQualificationIn::Bare(s)
                | LegacyQualificationIn::Object { qualification: s } => s,
            };
            let q = Qualification::parse_legacy(&name).ok_or_else(|| {
                DomainError::invalid(format!("{name:?} is not a qualification value."))
            })?;
            QualificationRequest::new(q.settable()?, None, None, query_code, Contract::Legacy)
        }
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct AddressIn {
        pub country: Option<String>,
        pub region: Option<String>,
        pub city: Option<String>,
        pub state: Option<String>,
        pub district: Option<String>,
        pub addressline1: Option<String>,
        pub addressline2: Option<String>,
        pub addressline3: Option<String>,
        pub postalcode: Option<String>,
        pub firstname: Option<String>,
        pub middlename: Option<String>,
        pub lastname: Option<String>,
        pub emailaddress: Option<String>,
        pub phonenumber: Option<String>,
    }

    impl TryFrom<AddressIn> for Address {
        type Error = DomainError;
        fn try_from(a: AddressIn) -> Result<Self, DomainError> {
            Address::try_from(AddressInput {
                country: a.country,
                region: a.region,
                city: a.city,
                state: a.state,
                district: a.district,
                address_line1: a.addressline1,
                address_line2: a.addressline2,
                address_line3: a.addressline3,
                postal_code: a.postalcode,
                first_name: a.firstname,
                middle_name: a.middlename,
                last_name: a.lastname,
                email_address: a.emailaddress,
                phone_number: a.phonenumber,
            })
        }
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct CompanyProfileIn {
        pub domain: Option<String>,
        pub companyname: Option<String>,
        pub email: Option<String>,
        #[serde(default, deserialize_with = "object")]
        pub address: Option<AddressIn>,
        pub organizationregistrationnumber: Option<String>,
    }

    impl TryFrom<CompanyProfileIn> for CompanyProfile {
        type Error = DomainError;
        fn try_from(c: CompanyProfileIn) -> Result<Self, DomainError> {
            Ok(CompanyProfile {
                domain: domain_name("companyProfile.domain", c.domain)?,
                company_name: optional_text("companyProfile.companyName", c.companyname, 256)?,
                email: optional_email("companyProfile.email", c.email)?,
                address: c.address.map(Address::try_from).transpose()?,
                organization_registration_number: optional_text(
                    "companyProfile.organizationRegistrationNumber",
                    c.organizationregistrationnumber,
                    100,
                )?,
            })
        }
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct BillingProfileIn {
        pub firstname: Option<String>,
        pub lastname: Option<String>,
        pub email: Option<String>,
        pub culture: Option<String>,
        pub language: Option<String>,
        pub companyname: Option<String>,
        #[serde(default, deserialize_with = "object")]
        pub defaultaddress: Option<AddressIn>,
        /// Clients that read the profile send it back whole, `attributes.etag` included.
        #[serde(default, deserialize_with = "object")]
        pub attributes: Option<AttributesIn>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct AttributesIn {
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
                default_address: b.defaultaddress.map(Address::try_from).transpose()?,
            })
        }
    }

    /// `POST /v1/customers`.
    #[derive(Debug, Deserialize)]
    pub struct CustomerIn {
        #[serde(default, deserialize_with = "object")]
        pub companyprofile: Option<CompanyProfileIn>,
        #[serde(default, deserialize_with = "object")]
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

    /// `POST /admin/v1/partners/{id}/validations`.
    #[derive(Debug, Deserialize)]
    pub struct IssueCodeIn {
        pub organizationname: Option<String>,
        pub maxcreates: Option<serde_json::Value>,
    }

    impl IssueCodeIn {
        pub fn validate(self) -> Result<(String, i64), DomainError> {
            let org = optional_text("organizationName", self.organizationname, 256)?
                .ok_or_else(|| DomainError::invalid("organizationName is required."))?;
            let max = match self.maxcreates {
                None => 1,
                Some(v) => v
                    .as_i64()
                    .filter(|n| (1..=MAX_CREATES_LIMIT).contains(n))
                    .ok_or_else(|| {
                        DomainError::invalid(format!(
                            "maxCreates must be an integer from 1 to {MAX_CREATES_LIMIT}."
                        ))
                    })?,
            };
            Ok((org, max))
        }
    }

    /// `POST /admin/v1/customers/{id}/qualifications/{q}/decision`.
    #[derive(Debug, Deserialize)]
    pub struct DecisionIn {
        pub vettingstatus: Option<String>,
        pub vettingreason: Option<String>,
    }

    impl TryFrom<DecisionIn> for VettingDecision {
        type Error = DomainError;
        fn try_from(d: DecisionIn) -> Result<Self, DomainError> {
            let s = d.vettingstatus.ok_or_else(|| {
                DomainError::invalid("vettingStatus is required (Approved or Denied).")
            })?;
            let status = DecisionStatus::parse(&s).ok_or_else(|| {
                DomainError::invalid(format!("vettingStatus {s:?} is not Approved or Denied."))
            })?;
            Ok(VettingDecision {
                status,
                reason: optional_text("vettingReason", d.vettingreason, 1024)?,
            })
        }
    }

    /// `PUT /admin/v1/customers/{id}/validationStatus`.
    #[derive(Debug, Deserialize)]
    pub struct ValidationStatusIn {
        pub status: Option<String>,
    }

    impl TryFrom<ValidationStatusIn> for AccountStatus {
        type Error = DomainError;
        fn try_from(v: ValidationStatusIn) -> Result<Self, DomainError> {
            let s = v
                .status
                .ok_or_else(|| DomainError::invalid("status is required."))?;
            AccountStatus::parse(&s).ok_or_else(|| {
                DomainError::invalid(format!("status {s:?} is not one of Unknown, UnderReview, Allowed, NotAllowed, Not Ready."))
            })
        }
    }

    /// `PUT /admin/v1/customers/{id}/gdap`.
    #[derive(Debug, Deserialize)]
    pub struct GdapIn {
        pub roles: Option<Vec<String>>,
    }

    impl TryFrom<GdapIn> for Vec<GdapRole> {
        type Error = DomainError;
        fn try_from(g: GdapIn) -> Result<Self, DomainError> {
            let roles = g.roles.ok_or_else(|| {
                DomainError::invalid("roles is required (an array, possibly empty).")
            })?;
            roles
                .iter()
                .map(|r| {
                    GdapRole::parse(r).ok_or_else(|| {
                        DomainError::new(
                            ErrorKind::InvalidInput,
                            format!("{r:?} is not one of Directory Reader, Directory Writer, License Administrator, User Administrator."),
                        )
                    })
                })
                .collect()
        }
    }
}

pub mod output {
    use qualify_core::customer::{Address, BillingProfile, CompanyProfile, Customer};
    use qualify_core::qualification::QualificationRecord;
    use qualify_core::time_fmt::wire;
    use qualify_core::validation::{GdapGrant, ValidationCode, ValidationStatus};
    use qualify_store::AuditEvent;
    use serde::Serialize;

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Attributes {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub etag: Option<String>,
        pub object_type: &'static str,
    }

    #[derive(Debug, Serialize)]
    pub struct Header {
        pub key: &'static str,
        pub value: String,
    }

    #[derive(Debug, Serialize)]
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

    #[derive(Debug, Serialize)]
    pub struct Links {
        #[serde(rename = "self")]
        pub self_: Link,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub next: Option<Link>,
    }

    /// The 4.2 shape: one qualification request.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct QualificationOut {
        pub qualification: &'static str,
        pub vetting_status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub vetting_reason: Option<String>,
        pub vetting_create_date: String,
    }

    impl From<&QualificationRecord> for QualificationOut {
        fn from(q: &QualificationRecord) -> Self {
            Self {
                qualification: q.qualification.name(),
                vetting_status: q.vetting_status.name(),
                vetting_reason: q.vetting_reason.clone(),
                vetting_create_date: wire(q.vetting_create_date),
            }
        }
    }

    /// An item of the operator's review queue.
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ReviewOut {
        pub customer_id: String,
        pub partner_id: String,
        pub qualification: &'static str,
        pub vetting_status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub vetting_reason: Option<String>,
        pub vetting_create_date: String,
        pub etag: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub education_segment: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub website: Option<String>,
    }

    impl From<&QualificationRecord> for ReviewOut {
        fn from(q: &QualificationRecord) -> Self {
            Self {
                customer_id: q.customer_id.to_string(),
                partner_id: q.partner_id.to_string(),
                qualification: q.qualification.name(),
                vetting_status: q.vetting_status.name(),
                vetting_reason: q.vetting_reason.clone(),
                vetting_create_date: wire(q.vetting_create_date),
                etag: q.etag.clone(),
                education_segment: q.education_segment.map(|s| s.name()),
                website: q.website.clone(),
            }
        }
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AddressOut {
        pub country: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub region: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub city: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub state: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub district: Option<String>,
        pub address_line1: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub address_line2: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub address_line3: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub postal_code: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub first_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub middle_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub last_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub email_address: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub phone_number: Option<String>,
    }

    impl From<&Address> for AddressOut {
        fn from(a: &Address) -> Self {
            let a = a.clone();
            Self {
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
            }
        }
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CompanyProfileOut {
        pub tenant_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub domain: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub company_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub email: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub address: Option<AddressOut>,
        #[serde(skip_serializing_if = "Option::is_none")]
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
                address: p.address.as_ref().map(AddressOut::from),
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

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct BillingProfileOut {
        pub id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub first_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub last_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub email: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub culture: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub language: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub company_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub default_address: Option<AddressOut>,
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
                default_address: p.default_address.as_ref().map(AddressOut::from),
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

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CustomerOut {
        pub id: String,
        pub company_profile: CompanyProfileOut,
        pub billing_profile: BillingProfileOut,
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

    /// A Partner Center collection (customers).
    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CollectionOut<T> {
        pub total_count: usize,
        pub items: Vec<T>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub continuation_token: Option<String>,
        pub links: Links,
        pub attributes: Attributes,
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ValidationCodeOut {
        pub partner_id: String,
        pub organization_name: String,
        pub validation_id: String,
        pub max_creates: i64,
        pub remaining_creates: i64,
        pub e_tag: String,
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
            }
        }
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ValidationStatusOut {
        #[serde(rename = "type")]
        pub kind: &'static str,
        pub status: &'static str,
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

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct GdapGrantOut {
        pub partner_id: String,
        pub customer_id: String,
        pub roles: Vec<&'static str>,
        pub updated_at: String,
    }

    impl From<&GdapGrant> for GdapGrantOut {
        fn from(g: &GdapGrant) -> Self {
            Self {
                partner_id: g.partner_id.to_string(),
                customer_id: g.customer_id.to_string(),
                roles: g.roles.iter().map(|r| r.name()).collect(),
                updated_at: wire(g.updated_at),
            }
        }
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AuditEventOut {
        pub at: String,
        pub actor: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub from: Option<&'static str>,
        pub to: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub request_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub correlation_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub profile_etag: Option<String>,
    }

    impl From<&AuditEvent> for AuditEventOut {
        fn from(e: &AuditEvent) -> Self {
            Self {
                at: wire(e.at),
                actor: e.actor.clone(),
                from: e.from.map(|s| s.name()),
                to: e.to.name(),
                reason: e.reason.clone(),
                request_id: e.request_id.clone(),
                correlation_id: e.correlation_id.clone(),
                profile_etag: e.profile_etag.clone(),
            }
        }
    }
}
