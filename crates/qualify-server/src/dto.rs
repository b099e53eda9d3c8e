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
    use utoipa::ToSchema;

    use crate::openapi::{
        AccountStatusSchema, DecisionStatusSchema, EducationSegmentSchema, GdapRoleSchema,
        LegacySettableQualificationSchema, QualificationSchema,
    };

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
    #[derive(Debug, Clone, Deserialize, ToSchema)]
    #[serde(untagged)]
    pub enum StringOrNumber {
        S(String),
        #[schema(value_type = i64)]
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
    #[derive(Debug, Deserialize, ToSchema)]
    #[schema(as = QualificationRequest)]
    pub struct QualificationIn {
        #[schema(value_type = QualificationSchema, required = true)]
        pub qualification: Option<String>,
        /// Required with Education.
        #[schema(rename = "educationSegment", value_type = Option<EducationSegmentSchema>)]
        pub educationsegment: Option<String>,
        /// Education only: the institution's website or host name.
        #[schema(max_length = 2048)]
        pub website: Option<String>,
        /// GovernmentCommunityCloud: one of the partner's validation codes (`validationId`).
        #[schema(rename = "validationCode")]
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
    #[derive(Debug, Deserialize, ToSchema)]
    #[serde(untagged)]
    #[schema(as = LegacyQualificationRequest)]
    pub enum LegacyQualificationIn {
        #[schema(value_type = LegacySettableQualificationSchema)]
        Bare(String),
        Object {
            #[schema(value_type = LegacySettableQualificationSchema)]
            qualification: String,
        },
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

    #[derive(Debug, Default, Deserialize, ToSchema)]
    #[schema(as = AddressInput)]
    pub struct AddressIn {
        /// ISO 3166-1 alpha-2.
        #[schema(required = true, nullable = false, pattern = "^[A-Za-z]{2}$")]
        pub country: Option<String>,
        #[schema(max_length = 100)]
        pub region: Option<String>,
        #[schema(max_length = 100)]
        pub city: Option<String>,
        #[schema(max_length = 100)]
        pub state: Option<String>,
        #[schema(max_length = 100)]
        pub district: Option<String>,
        #[schema(
            rename = "addressLine1",
            required = true,
            nullable = false,
            min_length = 1,
            max_length = 200
        )]
        pub addressline1: Option<String>,
        #[schema(rename = "addressLine2", max_length = 200)]
        pub addressline2: Option<String>,
        #[schema(rename = "addressLine3", max_length = 200)]
        pub addressline3: Option<String>,
        #[schema(rename = "postalCode", max_length = 20)]
        pub postalcode: Option<String>,
        #[schema(rename = "firstName", max_length = 50)]
        pub firstname: Option<String>,
        #[schema(rename = "middleName", max_length = 50)]
        pub middlename: Option<String>,
        #[schema(rename = "lastName", max_length = 50)]
        pub lastname: Option<String>,
        #[schema(rename = "emailAddress", format = Email, max_length = 254)]
        pub emailaddress: Option<String>,
        #[schema(rename = "phoneNumber", max_length = 50)]
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
        pub address: Option<AddressIn>,
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
                address: c.address.map(Address::try_from).transpose()?,
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
        pub defaultaddress: Option<AddressIn>,
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
                default_address: b.defaultaddress.map(Address::try_from).transpose()?,
            })
        }
    }

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

    /// `POST /admin/v1/partners/{id}/validations`.
    #[derive(Debug, Deserialize, ToSchema)]
    #[schema(as = IssueValidationCodeRequest)]
    pub struct IssueCodeIn {
        #[schema(
            rename = "organizationName",
            required = true,
            nullable = false,
            min_length = 1,
            max_length = 256
        )]
        pub organizationname: Option<String>,
        /// How many qualifications the code may create (default 1).
        #[schema(rename = "maxCreates", value_type = Option<i64>, minimum = 1, maximum = 1_000_000)]
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
    #[derive(Debug, Deserialize, ToSchema)]
    #[schema(as = VettingDecisionRequest)]
    pub struct DecisionIn {
        #[schema(rename = "vettingStatus", value_type = DecisionStatusSchema, required = true)]
        pub vettingstatus: Option<String>,
        #[schema(
            rename = "vettingReason",
            max_length = 1024,
            example = "Not an Education Customer"
        )]
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
    #[derive(Debug, Deserialize, ToSchema)]
    #[schema(as = ValidationStatusRequest)]
    pub struct ValidationStatusIn {
        #[schema(value_type = AccountStatusSchema, required = true)]
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
    #[derive(Debug, Deserialize, ToSchema)]
    #[schema(as = GdapGrantRequest)]
    pub struct GdapIn {
        /// The complete set of roles (possibly empty).
        #[schema(value_type = Vec<GdapRoleSchema>, required = true)]
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
    use utoipa::ToSchema;

    use crate::openapi::{
        AccountStatusSchema, EducationSegmentSchema, GdapRoleSchema, QualificationSchema,
        VettingStatusSchema,
    };

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

    /// The 4.2 shape: one qualification request.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = CustomerQualification)]
    pub struct QualificationOut {
        #[schema(value_type = QualificationSchema)]
        pub qualification: &'static str,
        #[schema(value_type = VettingStatusSchema)]
        pub vetting_status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub vetting_reason: Option<String>,
        #[schema(format = DateTime)]
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
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = Review)]
    pub struct ReviewOut {
        #[schema(format = Uuid)]
        pub customer_id: String,
        #[schema(format = Uuid)]
        pub partner_id: String,
        #[schema(value_type = QualificationSchema)]
        pub qualification: &'static str,
        #[schema(value_type = VettingStatusSchema)]
        pub vetting_status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub vetting_reason: Option<String>,
        #[schema(format = DateTime)]
        pub vetting_create_date: String,
        /// The If-Match of a decision.
        pub etag: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false, value_type = Option<EducationSegmentSchema>)]
        pub education_segment: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub website: Option<String>,
        /// The customer's company name (company profile), in the review queue.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub company_name: Option<String>,
        /// The customer's domain (company profile), in the review queue.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub domain: Option<String>,
    }

    impl From<&qualify_store::ReviewItem> for ReviewOut {
        fn from(r: &qualify_store::ReviewItem) -> Self {
            Self {
                company_name: r.company_name.clone(),
                domain: r.domain.clone(),
                ..Self::from(&r.qualification)
            }
        }
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
                company_name: None,
                domain: None,
            }
        }
    }

    /// `GET /admin/v1/customers/{id}`: any partner's customer, as an operator sees it.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = AdminCustomer)]
    pub struct AdminCustomerOut {
        /// The customer's tenant id.
        #[schema(format = Uuid)]
        pub id: String,
        /// The partner the customer belongs to.
        #[schema(format = Uuid)]
        pub partner_id: String,
        pub company_profile: CompanyProfileOut,
        pub billing_profile: BillingProfileOut,
        #[schema(example = "reseller")]
        pub relationship_to_partner: &'static str,
        /// The GDAP roles the partner holds over the customer.
        #[schema(value_type = Vec<GdapRoleSchema>)]
        pub gdap_roles: Vec<&'static str>,
        /// The account validation status, when an operator set one.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub validation_status: Option<ValidationStatusOut>,
        /// Every qualification request of the customer, oldest first, with the etag a decision
        /// needs.
        pub qualifications: Vec<ReviewOut>,
        #[schema(format = DateTime)]
        pub created_at: String,
        pub attributes: Attributes,
    }

    impl AdminCustomerOut {
        pub fn new(
            c: &Customer,
            gdap: Option<&GdapGrant>,
            status: Option<&ValidationStatus>,
            qualifications: &[QualificationRecord],
        ) -> Self {
            Self {
                id: c.id.to_string(),
                partner_id: c.partner_id.to_string(),
                company_profile: CompanyProfileOut::new(c),
                billing_profile: BillingProfileOut::new(c),
                relationship_to_partner: "reseller",
                gdap_roles: gdap
                    .map(|g| g.roles.iter().map(|r| r.name()).collect())
                    .unwrap_or_default(),
                validation_status: status.map(ValidationStatusOut::from),
                qualifications: qualifications.iter().map(ReviewOut::from).collect(),
                created_at: wire(c.created_at),
                attributes: Attributes {
                    etag: None,
                    object_type: "Customer",
                },
            }
        }
    }

    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = Address)]
    pub struct AddressOut {
        pub country: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub region: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub city: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub state: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub district: Option<String>,
        pub address_line1: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub address_line2: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub address_line3: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub postal_code: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub first_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub middle_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub last_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub email_address: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
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
        pub address: Option<AddressOut>,
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

    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = GdapGrant)]
    pub struct GdapGrantOut {
        #[schema(format = Uuid)]
        pub partner_id: String,
        #[schema(format = Uuid)]
        pub customer_id: String,
        #[schema(value_type = Vec<GdapRoleSchema>)]
        pub roles: Vec<&'static str>,
        #[schema(format = DateTime)]
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

    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = AuditEvent)]
    pub struct AuditEventOut {
        #[schema(format = DateTime)]
        pub at: String,
        pub actor: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false, value_type = Option<VettingStatusSchema>)]
        pub from: Option<&'static str>,
        #[schema(value_type = VettingStatusSchema)]
        pub to: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub reason: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub request_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub correlation_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
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

/// Webhooks (events.md 1-2): Partner Center's registration shapes, the validation event's
/// status, and the operator's view of deliveries.
pub mod webhooks {
    use qualify_core::DomainError;
    use qualify_core::time_fmt::wire;
    use qualify_core::webhooks::{EventName, Registration};
    use qualify_store::{Attempt, Delivery, DeliveryStatus};
    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;

    /// `POST` and `PUT /webhooks/v1/registration` (keys case-insensitive).
    #[derive(Debug, Deserialize, ToSchema)]
    #[schema(as = WebhookRegistrationRequest)]
    pub struct RegistrationIn {
        /// An absolute http(s) URL.
        #[schema(rename = "WebhookUrl", required = true, nullable = false)]
        pub webhookurl: Option<String>,
        /// Event names from `GET /webhooks/v1/registration/events` (at least one).
        #[schema(rename = "WebhookEvents", required = true, nullable = false)]
        pub webhookevents: Option<Vec<String>>,
        /// `PUT` only: a new `SigningSecret`; the old one keeps signing for 24 hours.
        #[schema(rename = "RotateSecret", nullable = false)]
        pub rotatesecret: Option<bool>,
    }

    impl RegistrationIn {
        /// The URL (not yet checked against the SSRF rule) and the events, deduplicated.
        pub fn validate(&self) -> Result<(String, Vec<EventName>), DomainError> {
            let url = self
                .webhookurl
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| DomainError::invalid("WebhookUrl is required."))?;
            if url.len() > 2048 {
                return Err(DomainError::invalid(
                    "WebhookUrl is longer than 2048 characters.",
                ));
            }
            crate::webhooks::parse_url(url)
                .map_err(|e| DomainError::invalid(format!("WebhookUrl is not valid: {e}.")))?;
            let names = self
                .webhookevents
                .as_deref()
                .filter(|e| !e.is_empty())
                .ok_or_else(|| {
                    DomainError::invalid("WebhookEvents must name at least one event.")
                })?;
            let mut events = Vec::new();
            for name in names {
                let event = EventName::parse(name).ok_or_else(|| {
                    DomainError::invalid(format!(
                        "WebhookEvents: {name:?} is not an event qualify sends; see GET /webhooks/v1/registration/events."
                    ))
                })?;
                if !events.contains(&event) {
                    events.push(event);
                }
            }
            Ok((url.to_owned(), events))
        }
    }

    /// A partner's registration, as Partner Center shapes it, with qualify's `SigningSecret`.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "PascalCase")]
    #[schema(as = WebhookRegistration)]
    pub struct RegistrationOut {
        pub subscriber_id: String,
        pub webhook_url: String,
        pub webhook_events: Vec<&'static str>,
        /// `whsec_` and the base64 of the 32-byte HMAC key of the `webhook-signature` header.
        pub signing_secret: String,
        /// Deliveries stopped because the receiver answered 410; a POST or PUT enables them again.
        pub disabled: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        pub disabled_reason: Option<String>,
    }

    impl From<&Registration> for RegistrationOut {
        fn from(r: &Registration) -> Self {
            Self {
                subscriber_id: r.subscriber_id.clone(),
                webhook_url: r.url.clone(),
                webhook_events: r.events.iter().map(|e| e.name()).collect(),
                signing_secret: r.secret.clone(),
                disabled: r.disabled.is_some(),
                disabled_reason: r.disabled.clone(),
            }
        }
    }

    /// One attempt of a validation event, as Partner Center reports it.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = WebhookValidationResult)]
    pub struct ValidationResultOut {
        /// The HTTP status name (`OK`, `InternalServerError`, ...; the number when it has no
        /// name); `None` when no answer came.
        pub response_code: String,
        pub response_message: String,
        /// No HTTP answer (timeout, connection failure, refused target).
        pub system_error: bool,
        pub date_time_utc: String,
    }

    /// `GET /webhooks/v1/registration/validationEvents/{correlationId}`.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = WebhookValidationStatus)]
    pub struct ValidationOut {
        pub correlation_id: String,
        pub partner_id: String,
        /// `pending`, `completed` (delivered) or `failed` (given up).
        pub status: &'static str,
        pub callback_url: String,
        pub results: Vec<ValidationResultOut>,
    }

    impl ValidationOut {
        pub fn new(d: &Delivery, callback_url: String) -> Self {
            Self {
                correlation_id: d.event.event_id.clone(),
                partner_id: d.event.partner_id.to_string(),
                status: match d.status {
                    DeliveryStatus::Pending => "pending",
                    DeliveryStatus::Succeeded => "completed",
                    DeliveryStatus::Dead | DeliveryStatus::Cancelled => "failed",
                },
                callback_url,
                results: d
                    .attempts
                    .iter()
                    .map(|a| ValidationResultOut {
                        response_code: a.response_code.map_or("None".into(), status_name),
                        response_message: a.error.clone().unwrap_or_default(),
                        system_error: a.response_code.is_none(),
                        date_time_utc: wire(a.at),
                    })
                    .collect(),
            }
        }
    }

    /// .NET's `HttpStatusCode` name of a status, as Partner Center reports `responseCode`.
    fn status_name(code: u16) -> String {
        let name = match code {
            200 => "OK",
            201 => "Created",
            202 => "Accepted",
            204 => "NoContent",
            301 => "MovedPermanently",
            302 => "Found",
            307 => "TemporaryRedirect",
            308 => "PermanentRedirect",
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            405 => "MethodNotAllowed",
            408 => "RequestTimeout",
            409 => "Conflict",
            410 => "Gone",
            413 => "RequestEntityTooLarge",
            415 => "UnsupportedMediaType",
            429 => "TooManyRequests",
            500 => "InternalServerError",
            501 => "NotImplemented",
            502 => "BadGateway",
            503 => "ServiceUnavailable",
            504 => "GatewayTimeout",
            _ => return code.to_string(),
        };
        name.to_owned()
    }

    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = WebhookAttempt)]
    pub struct AttemptOut {
        /// The partner's time of the attempt.
        pub at: String,
        pub response_code: Option<u16>,
        pub error: Option<String>,
        pub duration_ms: u64,
    }

    impl From<&Attempt> for AttemptOut {
        fn from(a: &Attempt) -> Self {
            Self {
                at: wire(a.at),
                response_code: a.response_code,
                error: a.error.clone(),
                duration_ms: a.duration_ms,
            }
        }
    }

    /// `GET /admin/v1/partners/{p}/deliveries`: one event's delivery.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(as = WebhookDelivery)]
    pub struct DeliveryOut {
        pub id: String,
        /// The `webhook-id` of every attempt.
        pub event_id: String,
        pub event_name: &'static str,
        pub customer_id: Option<String>,
        pub qualification: Option<&'static str>,
        /// `pending`, `succeeded`, `dead` or `cancelled`.
        pub status: &'static str,
        pub attempts: Vec<AttemptOut>,
        pub next_attempt_at: Option<String>,
    }

    impl From<&Delivery> for DeliveryOut {
        fn from(d: &Delivery) -> Self {
            Self {
                id: d.id.to_string(),
                event_id: d.event.event_id.clone(),
                event_name: d.event.event_name.name(),
                customer_id: d.event.customer_id.map(|c| c.to_string()),
                qualification: d.event.qualification.map(|q| q.name()),
                status: d.status.name(),
                attempts: d.attempts.iter().map(AttemptOut::from).collect(),
                next_attempt_at: d.next_attempt_at.map(wire),
            }
        }
    }
}
