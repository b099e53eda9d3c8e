//! Tenant identifiers. Both partners and customers are Entra ID tenants, named by GUIDs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! tenant_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Lower-case hyphenated, as Partner Center writes tenant ids.
                write!(f, "{}", self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_guid(s).map(Self)
            }
        }
    };
}

/// A GUID in its usual 36-character hyphenated form (braces and other spellings are refused:
/// they are not what Partner Center accepts in a path either).
fn parse_guid(s: &str) -> Result<Uuid, uuid::Error> {
    if s.len() != 36 {
        // Let uuid produce the error value for us.
        return Uuid::parse_str("not-a-guid");
    }
    Uuid::parse_str(s)
}

tenant_id!(
    /// The partner: the tenant (`tid`) of the caller's token.
    PartnerId
);
tenant_id!(
    /// A customer tenant, owned by exactly one partner.
    CustomerId
);

impl CustomerId {
    /// The id of a customer created here: a UUIDv7, whose leading bits are the creation time,
    /// so that the index entries of recently created customers (the busy ones) share pages
    /// instead of landing on a random page each.
    pub fn new_time_ordered() -> Self {
        Self(Uuid::now_v7())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hyphenated_guids_only() {
        assert!(
            "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d"
                .parse::<CustomerId>()
                .is_ok()
        );
        assert!(
            "9DAAEB1C-4195-4DB5-9F1D-509EB70C8C2D"
                .parse::<CustomerId>()
                .is_ok()
        );
        assert!(
            "9daaeb1c41954db59f1d509eb70c8c2d"
                .parse::<CustomerId>()
                .is_err()
        );
        assert!(
            "{9daaeb1c-4195-4db5-9f1d-509eb70c8c2d}"
                .parse::<CustomerId>()
                .is_err()
        );
        assert!("all".parse::<CustomerId>().is_err());
    }

    #[test]
    fn displays_lower_case() {
        let id: PartnerId = "9DAAEB1C-4195-4DB5-9F1D-509EB70C8C2D".parse().unwrap();
        assert_eq!(id.to_string(), "9daaeb1c-4195-4db5-9f1d-509eb70c8c2d");
    }
}
