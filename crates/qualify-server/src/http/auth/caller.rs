//! Who is calling: the partner tenant of a verified token and what its credential allows.

use qualify_core::PartnerId;

/// The app role that opens `/admin/v1`.
pub const ADMIN_ROLE: &str = "Qualify.Admin";

/// What a verified token proves about its bearer (api.md 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// App-only: `idtyp: app`, or no `scp`, or no user.
    AppOnly,
    /// App+User (delegated): `scp` and a user (`upn` or `unique_name`).
    AppUser { user: String },
    /// Carries the operator role `Qualify.Admin` (App-only when `user` is `None`).
    Operator { user: Option<String> },
}

/// Who is calling: the partner tenant (the token's `tid`) and the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub partner: PartnerId,
    pub credential: Credential,
}

impl Caller {
    /// The user of an App+User token (operators included).
    pub fn user(&self) -> Option<&str> {
        match &self.credential {
            Credential::AppOnly => None,
            Credential::AppUser { user } => Some(user),
            Credential::Operator { user } => user.as_deref(),
        }
    }

    /// App+User (delegated) rather than App-only.
    pub fn is_delegated(&self) -> bool {
        self.user().is_some()
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.credential, Credential::Operator { .. })
    }

    /// The name written into audit events.
    pub fn actor(&self) -> String {
        match self.user() {
            Some(u) => format!("{u} ({})", self.partner),
            None => format!("app ({})", self.partner),
        }
    }
}
