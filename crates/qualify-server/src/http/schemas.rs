//! Schemas of the wire vocabularies, built from the core enums so that the OpenAPI document
//! cannot drift from them. Wire types name them (`#[schema(value_type = QualificationSchema)]`).

use std::borrow::Cow;

use qualify_core::qualification::{
    DecisionStatus, EducationSegment, Qualification, SettableQualification, VettingStatus,
};
use qualify_core::validation::{AccountStatus, GdapRole};
use serde_json::json;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// A JSON-Schema string enum.
pub fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
        .into()
}

/// Schemas of wire vocabularies, built from the core enums so they cannot drift from them.
macro_rules! vocabulary {
    ($( $(#[$doc:meta])* $ty:ident as $name:literal => $schema:expr; )*) => {$(
        $(#[$doc])*
        pub struct $ty;
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                RefOr::T($schema)
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    )*};
}

vocabulary! {
    /// The qualifications a partner can request.
    QualificationSchema as "Qualification" => string_enum(
        SettableQualification::ALL.map(SettableQualification::name),
        "A qualification a partner can request, matched case-insensitively. `None` and \
         `Nonprofit` are valid Partner Center values that cannot be set (400).",
    );
    /// The retired single-value contract's values.
    LegacyQualificationSchema as "LegacyQualification" => string_enum(
        Qualification::ALL.map(Qualification::legacy_name),
        "The retired single-value contract: a qualification in lower snake case.",
    );
    /// The values of the retired contract that a partner can request.
    LegacySettableQualificationSchema as "LegacySettableQualification" => string_enum(
        SettableQualification::ALL.map(|q| q.qualification().legacy_name()),
        "A qualification a partner can request in the retired contract, matched \
         case-insensitively (the PascalCase names are accepted too). `none` and `nonprofit` \
         cannot be set (400).",
    );
    EducationSegmentSchema as "EducationSegment" => string_enum(
        [EducationSegment::K12, EducationSegment::HigherEducation].map(EducationSegment::name),
        "Required with Education; matched case-insensitively.",
    );
    /// An open string: clients must accept values they do not know.
    VettingStatusSchema as "VettingStatus" => ObjectBuilder::new()
        .schema_type(Type::String)
        .examples([VettingStatus::InReview, VettingStatus::Approved, VettingStatus::Denied]
            .map(|s| json!(s.name())))
        .description(Some(
            "InReview, Approved or Denied today. An open string: clients must accept values \
             they do not know.",
        ))
        .build()
        .into();
    DecisionStatusSchema as "DecisionStatus" => string_enum(
        [DecisionStatus::Approved, DecisionStatus::Denied]
            .map(|d| d.vetting_status().name()),
        "A terminal vetting outcome; matched case-insensitively.",
    );
    AccountStatusSchema as "AccountStatus" => string_enum(
        AccountStatus::ALL.map(AccountStatus::name),
        "A customer's account validation status (`Not Ready` has a space).",
    );
    GdapRoleSchema as "GdapRole" => string_enum(
        GdapRole::ALL.map(GdapRole::name),
        "A GDAP role the partner holds over the customer; GCC needs one of these.",
    );
}
