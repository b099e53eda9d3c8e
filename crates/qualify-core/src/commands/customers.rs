//! Customers, their profiles, GDAP grants and account validation status, and the partner's GCC
//! validation codes (api.md 4.4 - 4.6, 6).

use crate::command::{Command, Owner, Planned};
use crate::customer::{BillingProfile, Customer, NewCustomer};
use crate::effects::{Effect, Stamp, new_etag};
use crate::error::{DomainError, ErrorKind};
use crate::ids::{CustomerId, PartnerId};
use crate::validation::{
    AccountStatus, GdapGrant, GdapRole, ISSUE_ATTEMPTS, ValidationCode, ValidationStatus,
    new_validation_id,
};

/// `POST /v1/customers`: a new customer of the partner, with fresh etags and the server's
/// default GDAP roles.
#[derive(Debug, Clone)]
pub struct CreateCustomer {
    pub partner: PartnerId,
    pub new: NewCustomer,
    pub default_gdap_roles: Vec<GdapRole>,
}

impl Command for CreateCustomer {
    type Snapshot = ();
    type Answer = Customer;

    fn owner(&self) -> Owner {
        Owner::Partner(self.partner)
    }

    fn plan(&self, (): (), stamp: Stamp<'_>) -> Result<Planned<Customer>, DomainError> {
        let customer = Customer {
            id: CustomerId::new_time_ordered(),
            partner_id: self.partner,
            company_profile: self.new.company_profile.clone(),
            company_etag: new_etag(),
            billing_profile: self.new.billing_profile.clone(),
            billing_etag: new_etag(),
            created_at: stamp.at,
        };
        let mut effects = vec![Effect::InsertCustomer(Box::new(customer.clone()))];
        if !self.default_gdap_roles.is_empty() {
            effects.push(Effect::SetGdap(GdapGrant::new(
                self.partner,
                customer.id,
                &self.default_gdap_roles,
                stamp.at,
            )));
        }
        Ok(Planned::new(effects, customer))
    }
}

/// `PUT /v1/customers/{id}/profiles/billing`: replaces the billing profile when `if_match` is
/// its etag (412 otherwise).
#[derive(Debug, Clone)]
pub struct UpdateBillingProfile {
    pub customer: CustomerId,
    pub if_match: String,
    pub profile: BillingProfile,
}

impl Command for UpdateBillingProfile {
    /// The customer, locked.
    type Snapshot = Option<Customer>;
    type Answer = Customer;

    fn owner(&self) -> Owner {
        Owner::OwnerOf(self.customer)
    }

    fn plan(
        &self,
        current: Option<Customer>,
        _: Stamp<'_>,
    ) -> Result<Planned<Customer>, DomainError> {
        let current = current.ok_or_else(|| DomainError::of(ErrorKind::NotFound))?;
        if current.billing_etag != self.if_match {
            return Err(ErrorKind::PreconditionFailed.into());
        }
        let updated = Customer {
            billing_profile: self.profile.clone(),
            billing_etag: new_etag(),
            ..current
        };
        let effect = Effect::UpdateBillingProfile {
            customer: self.customer,
            profile: Box::new(updated.billing_profile.clone()),
            etag: updated.billing_etag.clone(),
        };
        Ok(Planned::new(vec![effect], updated))
    }
}

/// An operator issues a GCC validation code to a partner (api.md 6). Its id is random; a taken
/// one is retried with another. Stamped with wall time: it only orders a partner's codes.
#[derive(Debug, Clone)]
pub struct IssueValidationCode {
    pub partner: PartnerId,
    pub organization_name: String,
    pub max_creates: i64,
}

impl Command for IssueValidationCode {
    type Snapshot = ();
    type Answer = ValidationCode;
    const ATTEMPTS: u32 = ISSUE_ATTEMPTS;

    fn owner(&self) -> Owner {
        Owner::Nobody
    }

    fn plan(&self, (): (), stamp: Stamp<'_>) -> Result<Planned<ValidationCode>, DomainError> {
        let code = ValidationCode {
            partner_id: self.partner,
            organization_name: self.organization_name.clone(),
            validation_id: new_validation_id(),
            max_creates: self.max_creates,
            remaining_creates: self.max_creates,
            etag: new_etag(),
        };
        let effect = Effect::InsertValidationCode {
            code: code.clone(),
            at: stamp.at,
        };
        Ok(Planned::new(vec![effect], code))
    }
}

/// An operator sets a customer's account validation status (api.md 4.6), stamped with the
/// owner's time; 404 for a customer that does not exist.
#[derive(Debug, Clone)]
pub struct SetValidationStatus {
    pub customer: CustomerId,
    pub status: AccountStatus,
}

impl Command for SetValidationStatus {
    /// The customer's owner, when it exists.
    type Snapshot = Option<PartnerId>;
    type Answer = ValidationStatus;

    fn owner(&self) -> Owner {
        Owner::OwnerOf(self.customer)
    }

    fn plan(
        &self,
        owner: Option<PartnerId>,
        stamp: Stamp<'_>,
    ) -> Result<Planned<ValidationStatus>, DomainError> {
        owner.ok_or_else(|| DomainError::of(ErrorKind::NotFound))?;
        let saved = ValidationStatus {
            customer_id: self.customer,
            status: self.status,
            last_update: stamp.at,
        };
        Ok(Planned::new(
            vec![Effect::SetValidationStatus(saved.clone())],
            saved,
        ))
    }
}

/// An operator sets the GDAP roles a partner holds over a customer (api.md 2).
#[derive(Debug, Clone)]
pub struct SetGdap {
    pub partner: PartnerId,
    pub customer: CustomerId,
    pub roles: Vec<GdapRole>,
}

impl Command for SetGdap {
    type Snapshot = ();
    type Answer = GdapGrant;

    fn owner(&self) -> Owner {
        Owner::Partner(self.partner)
    }

    fn plan(&self, (): (), stamp: Stamp<'_>) -> Result<Planned<GdapGrant>, DomainError> {
        let grant = GdapGrant::new(self.partner, self.customer, &self.roles, stamp.at);
        Ok(Planned::new(vec![Effect::SetGdap(grant.clone())], grant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::CompanyProfile;
    use crate::time_fmt::from_millis;

    const P: PartnerId = PartnerId(uuid::Uuid::from_u128(1));

    fn stamp() -> Stamp<'static> {
        Stamp {
            at: from_millis(5_000),
            actor: "tester",
            ids: None,
        }
    }

    fn customer() -> Customer {
        CreateCustomer {
            partner: P,
            new: NewCustomer {
                company_profile: CompanyProfile::default(),
                billing_profile: BillingProfile::default(),
            },
            default_gdap_roles: vec![],
        }
        .plan((), stamp())
        .unwrap()
        .answer
    }

    #[test]
    fn a_new_customer_gets_fresh_etags_and_the_default_roles_once_each() {
        let create = CreateCustomer {
            partner: P,
            new: NewCustomer {
                company_profile: CompanyProfile::default(),
                billing_profile: BillingProfile::default(),
            },
            default_gdap_roles: vec![
                GdapRole::DirectoryWriter,
                GdapRole::DirectoryReader,
                GdapRole::DirectoryWriter,
            ],
        };
        let planned = create.plan((), stamp()).unwrap();
        let c = &planned.answer;
        assert_eq!((c.partner_id, c.created_at), (P, from_millis(5_000)));
        assert_ne!(c.company_etag, c.billing_etag);
        let [Effect::InsertCustomer(inserted), Effect::SetGdap(grant)] = &planned.effects[..]
        else {
            panic!("{:?}", planned.effects)
        };
        assert_eq!(**inserted, *c);
        assert_eq!(
            grant.roles,
            vec![GdapRole::DirectoryReader, GdapRole::DirectoryWriter]
        );
        let without = CreateCustomer {
            default_gdap_roles: vec![],
            ..create
        };
        assert_eq!(without.plan((), stamp()).unwrap().effects.len(), 1);
    }

    #[test]
    fn a_billing_update_needs_the_current_etag() {
        let current = customer();
        let update = |if_match: &str| UpdateBillingProfile {
            customer: current.id,
            if_match: if_match.into(),
            profile: BillingProfile::default(),
        };
        assert_eq!(
            update("stale")
                .plan(Some(current.clone()), stamp())
                .unwrap_err()
                .kind,
            ErrorKind::PreconditionFailed
        );
        assert_eq!(
            update("x").plan(None, stamp()).unwrap_err().kind,
            ErrorKind::NotFound
        );
        let planned = update(&current.billing_etag)
            .plan(Some(current.clone()), stamp())
            .unwrap();
        assert_ne!(planned.answer.billing_etag, current.billing_etag);
        assert_eq!(planned.answer.company_etag, current.company_etag);
    }

    #[test]
    fn issued_codes_are_nine_digits_with_every_create_left() {
        let issue = IssueValidationCode {
            partner: P,
            organization_name: "Gov".into(),
            max_creates: 3,
        };
        let code = issue.plan((), stamp()).unwrap().answer;
        assert_eq!(code.validation_id.len(), 9);
        assert!(code.validation_id.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!((code.max_creates, code.remaining_creates), (3, 3));
        assert_ne!(
            issue.plan((), stamp()).unwrap().answer.validation_id,
            code.validation_id
        );
    }

    #[test]
    fn a_status_for_a_missing_customer_is_not_found() {
        let set = SetValidationStatus {
            customer: customer().id,
            status: AccountStatus::Allowed,
        };
        assert_eq!(
            set.plan(None, stamp()).unwrap_err().kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            set.plan(Some(P), stamp()).unwrap().answer.last_update,
            from_millis(5_000)
        );
    }
}
