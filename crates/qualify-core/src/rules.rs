//! The rules of a qualification request (api.md 4.1), as pure functions over the request and
//! the state the store read inside its transaction.

use crate::error::{DomainError, ErrorKind};
use crate::ids::PartnerId;
use crate::qualification::{EducationSegment, QualificationRecord, SettableQualification};
use crate::validation::ValidationCode;

/// How long an `MS-RequestId` replays the first answer (api.md 1), on the partner's clock.
pub const IDEMPOTENCY_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Whether an idempotency record made at `recorded` (the partner's domain time) still replays
/// at `now`: after the window the key starts a new request.
pub fn replays(recorded: time::OffsetDateTime, now: time::OffsetDateTime) -> bool {
    now < recorded + IDEMPOTENCY_WINDOW
}

/// Microsoft allows at most three Education verification requests per customer.
pub const EDUCATION_REQUEST_LIMIT: usize = 3;

/// A validated request for a qualification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualificationRequest {
    pub qualification: SettableQualification,
    pub education_segment: Option<EducationSegment>,
    pub website: Option<String>,
    pub validation_code: Option<String>,
}

/// Which contract a request came through: the legacy single-qualification PUT has no
/// `educationSegment`, so it is not required there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    Current,
    Legacy,
}

impl QualificationRequest {
    /// Checks the stateless rules: segment for Education, code for GCC.
    pub fn new(
        qualification: SettableQualification,
        education_segment: Option<EducationSegment>,
        website: Option<String>,
        validation_code: Option<String>,
        contract: Contract,
    ) -> Result<Self, DomainError> {
        let website = website
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty());
        if let Some(w) = &website
            && (w.len() > 2048 || w.chars().any(char::is_control))
        {
            return Err(DomainError::invalid(
                "website must be a URL or host name of at most 2048 characters.",
            ));
        }
        let validation_code = validation_code
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        match qualification {
            SettableQualification::Education => {
                if education_segment.is_none() && contract == Contract::Current {
                    return Err(DomainError::of(ErrorKind::EducationSegmentRequired));
                }
            }
            SettableQualification::GovernmentCommunityCloud => {
                if validation_code.is_none() {
                    return Err(DomainError::of(ErrorKind::ValidationCodeRequired));
                }
            }
            SettableQualification::StateOwnedEntity => {}
        }
        let keeps = |q| qualification == q;
        Ok(Self {
            qualification,
            education_segment: education_segment
                .filter(|_| keeps(SettableQualification::Education)),
            website: website.filter(|_| keeps(SettableQualification::Education)),
            validation_code: validation_code
                .filter(|_| keeps(SettableQualification::GovernmentCommunityCloud)),
        })
    }
}

/// The rules that depend on the customer's existing qualifications.
pub fn check_against_existing(
    request: &QualificationRequest,
    existing: &[QualificationRecord],
) -> Result<(), DomainError> {
    let active = |q: SettableQualification| {
        existing
            .iter()
            .find(|r| r.qualification == q && r.vetting_status.is_active())
    };
    if let Some(r) = active(request.qualification) {
        return Err(DomainError::new(
            ErrorKind::QualificationExists,
            format!(
                "The customer already has {} with vetting status {}.",
                r.qualification, r.vetting_status
            ),
        ));
    }
    let other = match request.qualification {
        SettableQualification::Education => Some(SettableQualification::GovernmentCommunityCloud),
        SettableQualification::GovernmentCommunityCloud => Some(SettableQualification::Education),
        SettableQualification::StateOwnedEntity => None,
    };
    if other.and_then(active).is_some() {
        return Err(DomainError::of(ErrorKind::EducationGccCombined));
    }
    if request.qualification == SettableQualification::Education {
        let asked = existing
            .iter()
            .filter(|r| r.qualification == SettableQualification::Education)
            .count();
        if asked >= EDUCATION_REQUEST_LIMIT {
            return Err(DomainError::of(ErrorKind::EducationLimitReached));
        }
    }
    Ok(())
}

/// The GCC code rule: the code must be the calling partner's and have creates left.
/// A code of another partner is reported exactly like an unknown one.
pub fn check_validation_code(
    partner: PartnerId,
    code: Option<&ValidationCode>,
) -> Result<(), DomainError> {
    match code {
        Some(c) if c.partner_id == partner => {
            if c.remaining_creates > 0 {
                Ok(())
            } else {
                Err(DomainError::of(ErrorKind::ValidationCodeExhausted))
            }
        }
        _ => Err(DomainError::of(ErrorKind::ValidationCodeInvalid)),
    }
}

/// Most recent qualification that is InReview or Approved: the legacy single value.
pub fn legacy_current(existing: &[QualificationRecord]) -> Option<&QualificationRecord> {
    existing
        .iter()
        .filter(|r| r.vetting_status.is_active())
        .max_by_key(|r| (r.vetting_create_date, r.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CustomerId;
    use crate::qualification::VettingStatus;
    use crate::time_fmt::from_millis;
    use proptest::prelude::*;

    fn record(id: i64, q: SettableQualification, s: VettingStatus) -> QualificationRecord {
        QualificationRecord {
            id,
            customer_id: CustomerId(uuid::Uuid::nil()),
            partner_id: PartnerId(uuid::Uuid::nil()),
            qualification: q,
            vetting_status: s,
            vetting_reason: None,
            vetting_create_date: from_millis(id * 1000),
            education_segment: None,
            website: None,
            validation_code: None,
            etag: String::new(),
            choice: None,
            reads: 0,
        }
    }

    fn edu() -> QualificationRequest {
        QualificationRequest::new(
            SettableQualification::Education,
            Some(EducationSegment::K12),
            None,
            None,
            Contract::Current,
        )
        .unwrap()
    }

    fn gcc() -> QualificationRequest {
        QualificationRequest::new(
            SettableQualification::GovernmentCommunityCloud,
            None,
            None,
            Some("123".into()),
            Contract::Current,
        )
        .unwrap()
    }

    use SettableQualification::*;
    use VettingStatus::*;

    #[test]
    fn education_needs_a_segment_in_the_current_contract_only() {
        let e =
            QualificationRequest::new(Education, None, None, None, Contract::Current).unwrap_err();
        assert_eq!(e.kind, ErrorKind::EducationSegmentRequired);
        assert!(QualificationRequest::new(Education, None, None, None, Contract::Legacy).is_ok());
    }

    #[test]
    fn gcc_needs_a_code() {
        for code in [None, Some("  ".to_owned())] {
            let e = QualificationRequest::new(
                GovernmentCommunityCloud,
                None,
                None,
                code,
                Contract::Current,
            )
            .unwrap_err();
            assert_eq!(e.kind, ErrorKind::ValidationCodeRequired);
        }
    }

    #[test]
    fn fields_of_other_qualifications_are_dropped() {
        let r = QualificationRequest::new(
            StateOwnedEntity,
            Some(EducationSegment::K12),
            Some("a.edu".into()),
            Some("1".into()),
            Contract::Current,
        )
        .unwrap();
        assert_eq!(
            (r.education_segment, r.website, r.validation_code),
            (None, None, None)
        );
    }

    #[test]
    fn active_same_qualification_conflicts() {
        for s in [InReview, Approved] {
            let e = check_against_existing(&edu(), &[record(1, Education, s)]).unwrap_err();
            assert_eq!(e.kind, ErrorKind::QualificationExists);
        }
        assert!(check_against_existing(&edu(), &[record(1, Education, Denied)]).is_ok());
    }

    #[test]
    fn education_and_gcc_never_combine() {
        for s in [InReview, Approved] {
            assert_eq!(
                check_against_existing(&edu(), &[record(1, GovernmentCommunityCloud, s)])
                    .unwrap_err()
                    .kind,
                ErrorKind::EducationGccCombined
            );
            assert_eq!(
                check_against_existing(&gcc(), &[record(1, Education, s)])
                    .unwrap_err()
                    .kind,
                ErrorKind::EducationGccCombined
            );
        }
        assert!(check_against_existing(&gcc(), &[record(1, Education, Denied)]).is_ok());
        assert!(check_against_existing(&gcc(), &[record(1, StateOwnedEntity, Approved)]).is_ok());
    }

    #[test]
    fn education_at_most_three_requests() {
        let denied: Vec<_> = (1..=2).map(|i| record(i, Education, Denied)).collect();
        assert!(check_against_existing(&edu(), &denied).is_ok());
        let denied: Vec<_> = (1..=3).map(|i| record(i, Education, Denied)).collect();
        assert_eq!(
            check_against_existing(&edu(), &denied).unwrap_err().kind,
            ErrorKind::EducationLimitReached
        );
    }

    #[test]
    fn validation_code_must_be_the_partners_and_not_exhausted() {
        let me = PartnerId(uuid::Uuid::from_u128(1));
        let other = PartnerId(uuid::Uuid::from_u128(2));
        let code = |p, remaining| ValidationCode {
            partner_id: p,
            organization_name: "Contoso".into(),
            validation_id: "1".into(),
            max_creates: 3,
            remaining_creates: remaining,
            etag: "e".into(),
        };
        assert!(check_validation_code(me, Some(&code(me, 1))).is_ok());
        assert_eq!(
            check_validation_code(me, Some(&code(me, 0)))
                .unwrap_err()
                .kind,
            ErrorKind::ValidationCodeExhausted
        );
        assert_eq!(
            check_validation_code(me, Some(&code(other, 3)))
                .unwrap_err()
                .kind,
            ErrorKind::ValidationCodeInvalid
        );
        assert_eq!(
            check_validation_code(me, None).unwrap_err().kind,
            ErrorKind::ValidationCodeInvalid
        );
    }

    #[test]
    fn legacy_current_is_the_latest_active() {
        let rs = [
            record(1, Education, Denied),
            record(2, StateOwnedEntity, Approved),
            record(3, Education, Denied),
        ];
        assert_eq!(legacy_current(&rs).unwrap().id, 2);
        assert!(legacy_current(&[record(1, Education, Denied)]).is_none());
    }

    fn any_record() -> impl Strategy<Value = QualificationRecord> {
        (0usize..3, 0usize..3, 1i64..1000).prop_map(|(q, s, id)| {
            record(
                id,
                SettableQualification::ALL[q],
                [InReview, Approved, Denied][s],
            )
        })
    }

    proptest! {
        /// Whatever the history, an accepted request never produces a customer with two active
        /// copies of one qualification, Education next to GCC, or a fourth Education request.
        #[test]
        fn accepted_requests_keep_the_invariants(existing in proptest::collection::vec(any_record(), 0..8), which in 0usize..3) {
            let req = [edu(), gcc(), QualificationRequest::new(StateOwnedEntity, None, None, None, Contract::Current).unwrap()][which].clone();
            if check_against_existing(&req, &existing).is_ok() {
                let mut after = existing.clone();
                after.push(record(10_000, req.qualification, InReview));
                let active = |q| after.iter().filter(|r| r.qualification == q && r.vetting_status.is_active()).count();
                let active_before = |q| existing.iter().filter(|r: &&QualificationRecord| r.qualification == q && r.vetting_status.is_active()).count();
                prop_assert_eq!(active(req.qualification), active_before(req.qualification) + 1);
                prop_assert_eq!(active_before(req.qualification), 0);
                if req.qualification != StateOwnedEntity {
                    prop_assert!(active(Education) == 0 || active(GovernmentCommunityCloud) == 0);
                }
                if req.qualification == Education {
                    prop_assert!(after.iter().filter(|r| r.qualification == Education).count() <= EDUCATION_REQUEST_LIMIT);
                }
            }
        }
    }
}
