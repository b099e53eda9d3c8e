//! Micro-benchmarks of the per-request pure work: token validation, body parsing + rule
//! checks, response serialisation. `cargo bench -p qualify-server`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use qualify_core::PartnerId;
use qualify_core::qualification::{QualificationRecord, SettableQualification, VettingStatus};
use qualify_core::rules::check_against_existing;
use qualify_server::auth::{AuthConfig, Authenticator, DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::body::{fingerprint, parse};
use qualify_server::partner::qualifications::wire::{QualificationIn, QualificationOut};
use qualify_server::{DevToken, Secret, mint_dev_token};

fn record(id: i64) -> QualificationRecord {
    QualificationRecord {
        id,
        customer_id: qualify_core::CustomerId(uuid::Uuid::new_v4()),
        partner_id: PartnerId(uuid::Uuid::new_v4()),
        qualification: SettableQualification::Education,
        vetting_status: VettingStatus::Denied,
        vetting_reason: Some("Not an Academic Domain".into()),
        vetting_create_date: time::OffsetDateTime::UNIX_EPOCH,
        education_segment: None,
        website: None,
        validation_code: None,
        etag: "e".into(),
        choice: None,
        reads: 0,
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let auth = rt
        .block_on(Authenticator::new(&AuthConfig::Dev {
            secret: Secret::new(DEFAULT_DEV_SECRET),
            audience: DEFAULT_AUDIENCE.into(),
        }))
        .unwrap();
    let token = mint_dev_token(
        &DevToken {
            tenant: PartnerId::new_random(),
            app_only: false,
            admin: false,
            upn: None,
            ttl: Duration::from_secs(3600),
            audience: DEFAULT_AUDIENCE.into(),
        },
        &Secret::new(DEFAULT_DEV_SECRET),
    );
    let header = format!("Bearer {token}");
    c.bench_function("validate HS256 token", |b| {
        b.iter(|| {
            rt.block_on(auth.authenticate(Some(black_box(&header))))
                .unwrap()
        })
    });

    let body = br#"{"Qualification": "Education", "educationSegment": "HigherEducation", "website": "https://contoso.edu"}"#;
    let existing: Vec<_> = (1..=2).map(record).collect();
    c.bench_function("parse body + rules + fingerprint", |b| {
        b.iter(|| {
            let (dto, canonical) = parse::<QualificationIn>(black_box(body)).unwrap();
            let request = dto.into_request(None).unwrap();
            check_against_existing(&request, &existing).unwrap();
            fingerprint("POST", "/v1/customers/x/qualifications", &canonical)
        })
    });

    let list: Vec<_> = (1..=3).map(record).collect();
    c.bench_function("serialise a 3-item qualification list", |b| {
        b.iter(|| {
            serde_json::to_vec(
                &black_box(&list)
                    .iter()
                    .map(QualificationOut::from)
                    .collect::<Vec<_>>(),
            )
            .unwrap()
        })
    });
}

criterion_group!(hot, benches);
criterion_main!(hot);
