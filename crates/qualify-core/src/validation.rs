//! GCC validation codes, account validation status and GDAP grants.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{CustomerId, PartnerId};

/// A GCC validation code issued to a partner by an operator (api.md 4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationCode {
    pub partner_id: PartnerId,
    pub organization_name: String,
    pub validation_id: String,
    pub max_creates: i64,
    pub remaining_creates: i64,
    pub etag: String,
}

/// The most creates one code may allow: a bound, so counters stay far from overflow.
/// A new numeric validation code id (the value clients send as `validationCode`): nine digits,
/// random.
pub fn new_validation_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 900_000_000 + 100_000_000;
    n.to_string()
}

/// How many random ids an issue tries before it gives up (a collision takes another).
pub const ISSUE_ATTEMPTS: u32 = 8;

pub const MAX_CREATES_LIMIT: i64 = 1_000_000;

/// Account validation status values (api.md 4.6), `Not Ready` with its space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccountStatus {
    Unknown,
    UnderReview,
    Allowed,
    NotAllowed,
    NotReady,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 5] = [
        AccountStatus::Unknown,
        AccountStatus::UnderReview,
        AccountStatus::Allowed,
        AccountStatus::NotAllowed,
        AccountStatus::NotReady,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            AccountStatus::Unknown => "Unknown",
            AccountStatus::UnderReview => "UnderReview",
            AccountStatus::Allowed => "Allowed",
            AccountStatus::NotAllowed => "NotAllowed",
            AccountStatus::NotReady => "Not Ready",
        }
    }

    /// Case-insensitive; `NotReady` is accepted for `Not Ready`.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("NotReady") {
            return Some(AccountStatus::NotReady);
        }
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }
}

/// A customer's account validation status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationStatus {
    pub customer_id: CustomerId,
    pub status: AccountStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub last_update: OffsetDateTime,
}

/// The GDAP roles that allow a GCC qualification request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GdapRole {
    DirectoryReader,
    DirectoryWriter,
    LicenseAdministrator,
    UserAdministrator,
}

impl GdapRole {
    pub const ALL: [GdapRole; 4] = [
        GdapRole::DirectoryReader,
        GdapRole::DirectoryWriter,
        GdapRole::LicenseAdministrator,
        GdapRole::UserAdministrator,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            GdapRole::DirectoryReader => "Directory Reader",
            GdapRole::DirectoryWriter => "Directory Writer",
            GdapRole::LicenseAdministrator => "License Administrator",
            GdapRole::UserAdministrator => "User Administrator",
        }
    }

    /// Case-insensitive, spaces optional (`DirectoryReader` = `Directory Reader`).
    pub fn parse(s: &str) -> Option<Self> {
        let squash = |x: &str| {
            x.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let s = squash(s);
        Self::ALL.into_iter().find(|r| squash(r.name()) == s)
    }
}

/// The GDAP roles a partner holds over a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GdapGrant {
    pub partner_id: PartnerId,
    pub customer_id: CustomerId,
    pub roles: Vec<GdapRole>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl GdapGrant {
    /// A grant of `roles` (each once, in a stable order) set at `at`.
    pub fn new(
        partner_id: PartnerId,
        customer_id: CustomerId,
        roles: &[GdapRole],
        at: OffsetDateTime,
    ) -> Self {
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        Self {
            partner_id,
            customer_id,
            roles,
            updated_at: at,
        }
    }

    /// Any of the GDAP roles of api.md section 2 allows a GCC request.
    pub fn allows_gcc(&self) -> bool {
        !self.roles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_status_keeps_its_space() {
        assert_eq!(
            AccountStatus::parse("not ready"),
            Some(AccountStatus::NotReady)
        );
        assert_eq!(
            AccountStatus::parse("NotReady"),
            Some(AccountStatus::NotReady)
        );
        assert_eq!(AccountStatus::NotReady.name(), "Not Ready");
        assert_eq!(
            AccountStatus::parse("allowed"),
            Some(AccountStatus::Allowed)
        );
        assert_eq!(AccountStatus::parse("Maybe"), None);
    }

    #[test]
    fn gdap_roles_parse_loosely() {
        assert_eq!(
            GdapRole::parse("directory reader"),
            Some(GdapRole::DirectoryReader)
        );
        assert_eq!(
            GdapRole::parse("UserAdministrator"),
            Some(GdapRole::UserAdministrator)
        );
        assert_eq!(GdapRole::parse("Global Administrator"), None);
    }
}
