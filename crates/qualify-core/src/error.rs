//! The error catalogue: every error qualify returns, with its Partner Center `code`, its HTTP
//! status and its meaning. `docs/errors.md` is checked against this table by a test.
//!
//! Codes published by Microsoft are used as they are. Where the real code is not public, qualify
//! picked a number in the 9003xx/9004xx range; once released, a number is never changed.

use std::fmt;

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $kind:ident = ($code:expr, $status:expr, $meaning:expr), )*) => {
        /// Every kind of error, one variant per catalogue row.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind { $( $(#[$doc])* $kind, )* }

        impl ErrorKind {
            pub const ALL: &'static [ErrorKind] = &[ $( ErrorKind::$kind, )* ];

            /// The numeric `code` of the error body.
            pub const fn code(self) -> u32 { match self { $( ErrorKind::$kind => $code, )* } }

            /// The HTTP status this error is sent with.
            pub const fn status(self) -> u16 { match self { $( ErrorKind::$kind => $status, )* } }

            /// What the error means, for the catalogue and as the default description.
            pub const fn meaning(self) -> &'static str { match self { $( ErrorKind::$kind => $meaning, )* } }
        }
    };
}

catalogue! {
    /// Bad JSON, a missing or invalid field, an unknown enum value, a bad query parameter.
    InvalidInput = (800002, 400, "The request input is invalid."),
    /// A customer id in the path is not a GUID.
    InvalidCustomerId = (900118, 400, "The customer id is not a valid GUID."),
    /// `None` and `Nonprofit` are valid values that a partner cannot set.
    QualificationNotSettable = (900301, 400, "This qualification cannot be set; settable values are Education, GovernmentCommunityCloud and StateOwnedEntity."),
    /// Education without `educationSegment` (current contract only).
    EducationSegmentRequired = (900302, 400, "Education requires educationSegment (K12 or HigherEducation)."),
    /// GovernmentCommunityCloud without a validation code.
    ValidationCodeRequired = (900303, 400, "GovernmentCommunityCloud requires a validation code."),
    /// The code is unknown, or is not one of the calling partner's codes.
    ValidationCodeInvalid = (900304, 400, "The validation code is not valid for this partner."),
    /// The code has no remaining creates.
    ValidationCodeExhausted = (900305, 400, "The validation code has no remaining creates."),
    /// No bearer token.
    TokenMissing = (800001, 401, "Authorization token is missing."),
    /// The token failed validation: signature, algorithm, expiry, audience, issuer or claims.
    AuthorizationFailed = (1002, 401, "Authorization failed."),
    /// App-only token on an App+User operation, missing GDAP role, or missing admin role.
    Forbidden = (900150, 403, "The caller's credential type or role does not allow this operation."),
    /// The customer exists but belongs to another partner.
    NoRelationship = (20002, 403, "The partner has no commerce relationship with the customer."),
    /// Unknown resource or route.
    NotFound = (1000, 404, "The requested resource was not found."),
    /// The customer has no account validation status.
    ValidationStatusNotFound = (600074, 404, "No validation status was found for the customer."),
    /// The method is not allowed on this route.
    MethodNotAllowed = (900406, 405, "The HTTP method is not allowed on this resource."),
    /// The same qualification is already InReview or Approved for the customer.
    QualificationExists = (900306, 409, "The customer already has this qualification in review or approved."),
    /// Education and GovernmentCommunityCloud on one customer.
    EducationGccCombined = (900307, 409, "Education and GovernmentCommunityCloud cannot be combined on one customer."),
    /// Education requested more than three times for one customer.
    EducationLimitReached = (900308, 409, "The limit of three Education verification requests for this customer has been reached."),
    /// The qualification is no longer InReview.
    AlreadyDecided = (900309, 409, "The qualification has already been decided; terminal states never change."),
    /// `MS-RequestId` reused with another body or path.
    IdempotencyKeyReused = (900310, 409, "The MS-RequestId was already used for a different request."),
    /// A virtual clock asked to go back (control.md 4).
    ClockWentBack = (900313, 409, "The clock never goes back: the instant is earlier than the scope's current time."),
    /// A fixture names a customer or validation code that belongs to another partner.
    OwnedByAnotherPartner = (900314, 409, "The id already belongs to another partner."),
    /// `If-Match` does not match the current ETag.
    PreconditionFailed = (900312, 412, "The If-Match ETag does not match the current version of the resource."),
    /// The request body did not arrive within the body read timeout.
    RequestTimeout = (900408, 408, "The request body was not received in time."),
    /// The body is larger than the limit (1 MiB).
    PayloadTooLarge = (900413, 413, "The request body is too large."),
    /// A body that is not `application/json`.
    UnsupportedMediaType = (900415, 415, "The request body must be application/json."),
    /// An update that requires `If-Match` came without it.
    PreconditionRequired = (900428, 428, "This update requires an If-Match header."),
    /// Too many requests for the partner tenant.
    Throttled = (900429, 429, "Too many requests; retry after the number of seconds in Retry-After."),
    /// An unexpected failure inside qualify (the log has the cause).
    Internal = (900500, 500, "An internal error occurred."),
    /// The database or a dependency is unavailable; retry.
    Unavailable = (900503, 503, "The service is temporarily unavailable."),
}

/// A domain error: a catalogue entry and the human-readable description sent to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub kind: ErrorKind,
    pub description: String,
}

impl DomainError {
    pub fn new(kind: ErrorKind, description: impl Into<String>) -> Self {
        let mut description = description.into();
        if description.len() > 1024 {
            let mut cut = 1024;
            while !description.is_char_boundary(cut) {
                cut -= 1;
            }
            description.truncate(cut);
        }
        Self { kind, description }
    }

    pub fn of(kind: ErrorKind) -> Self {
        Self::new(kind, kind.meaning())
    }

    pub fn invalid(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, description)
    }
}

impl From<ErrorKind> for DomainError {
    fn from(kind: ErrorKind) -> Self {
        Self::of(kind)
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind.code(),
            self.kind.status(),
            self.description
        )
    }
}

impl std::error::Error for DomainError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = HashSet::new();
        for k in ErrorKind::ALL {
            assert!(seen.insert(k.code()), "duplicate code {}", k.code());
            assert!((400..600).contains(&k.status()), "{k:?}");
            assert!(k.meaning().len() <= 1024);
        }
    }

    #[test]
    fn published_codes_are_kept() {
        assert_eq!(ErrorKind::InvalidInput.code(), 800002);
        assert_eq!(ErrorKind::InvalidCustomerId.code(), 900118);
        assert_eq!(ErrorKind::TokenMissing.code(), 800001);
        assert_eq!(ErrorKind::AuthorizationFailed.code(), 1002);
        assert_eq!(ErrorKind::Forbidden.code(), 900150);
        assert_eq!(ErrorKind::NoRelationship.code(), 20002);
        assert_eq!(ErrorKind::NotFound.code(), 1000);
        assert_eq!(ErrorKind::ValidationStatusNotFound.code(), 600074);
    }

    #[test]
    fn descriptions_are_capped_on_a_char_boundary() {
        let e = DomainError::invalid("é".repeat(600));
        assert!(e.description.len() <= 1024);
    }
}

#[cfg(test)]
mod docs_tests {
    use super::ErrorKind;

    /// `docs/errors.md` lists exactly the catalogue.
    #[test]
    fn the_documented_catalogue_matches_the_code() {
        let doc = include_str!("../../../docs/errors.md");
        let rows: Vec<&str> = doc
            .lines()
            .filter(|l| l.starts_with("| 4") || l.starts_with("| 5"))
            .collect();
        assert_eq!(
            rows.len(),
            ErrorKind::ALL.len(),
            "docs/errors.md has {} rows",
            rows.len()
        );
        for k in ErrorKind::ALL {
            let prefix = format!(
                "| {} | {} | {:?} | {}",
                k.status(),
                k.code(),
                k,
                k.meaning()
            );
            assert!(
                rows.iter().any(|r| r.starts_with(&prefix)),
                "docs/errors.md lacks {prefix}"
            );
        }
    }
}
