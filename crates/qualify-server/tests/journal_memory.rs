#![allow(unsafe_code)] // a counting global allocator: the only way to measure what the journal holds
//! The journal's memory, measured: a counting allocator sees every byte a full journal of
//! 10,000 entries with 16 KiB bodies holds, which must stay under the documented bound
//! (`journal::bound_bytes`, docs/testing.md). Its own test binary, for the global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use qualify_core::PartnerId;
use qualify_server::journal::{self, Entry, Journal, TokenSummary};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn entry(partner: PartnerId, body: &[u8]) -> Entry {
    let mut headers = axum::http::HeaderMap::new();
    for (k, v) in [
        ("MS-RequestId", "6f1c1c5e-7f0b-4a43-9d0e-6f0c3c7b2a11"),
        ("MS-CorrelationId", "1a2b3c4d-7f0b-4a43-9d0e-6f0c3c7b2a11"),
        ("Content-Type", "application/json; charset=utf-8"),
        ("MS-PartnerCenter-Client", "Partner Center .NET SDK"),
        ("MS-SdkVersion", "3.4.0"),
        ("X-Locale", "en-US"),
        ("Accept", "application/json"),
    ] {
        headers.insert(k, v.parse().unwrap());
    }
    let (body, truncated) = journal::keep_body(body).unwrap();
    Entry {
        seq: 0,
        at: time::OffsetDateTime::now_utc(),
        partner: Some(partner),
        method: "POST".into(),
        path: journal::keep_text(
            "/v1/customers/2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b/qualifications",
            journal::PATH_KEPT,
        ),
        query: None,
        sent_path: None,
        request_id: "6f1c1c5e-7f0b-4a43-9d0e-6f0c3c7b2a11".into(),
        correlation_id: "1a2b3c4d-7f0b-4a43-9d0e-6f0c3c7b2a11".into(),
        headers: journal::keep_headers(&headers),
        auth: Some(TokenSummary {
            tid: partner,
            app_only: false,
            admin: false,
        }),
        body: Some(body),
        body_truncated: truncated,
        status: Some(201),
        code: None,
        retry_after: None,
        replayed: false,
        fault_id: None,
        duration_ms: 1.5,
    }
}

#[test]
fn a_full_journal_of_16_kib_bodies_stays_under_its_bound() {
    let size = journal::DEFAULT_SIZE;
    let body = format!(
        "{{\"qualification\": \"Education\", \"website\": \"{}\"}}",
        "x".repeat(20 * 1024)
    );
    let partner = PartnerId::new_random();
    let before = LIVE.load(Ordering::Relaxed);
    let journal = Journal::new(size);
    // A tenth more than the size: the ring evicts as it goes (a thousand times), and what it
    // holds at the end is a full ring.
    for _ in 0..size + size / 10 {
        journal.record(entry(partner, body.as_bytes()));
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    let bound = journal::bound_bytes(size);
    let mib = |b: usize| b as f64 / 1024.0 / 1024.0;
    println!(
        "journal of {size} entries with 16 KiB bodies: {:.1} MiB allocated, {:.1} MiB counted by heap_bytes, bound {:.1} MiB",
        mib(held),
        mib(journal.heap_bytes()),
        mib(bound)
    );
    assert_eq!(journal.scope(None).entries.len(), size);
    assert!(held <= bound, "{held} bytes held, bound {bound}");
    assert!(
        journal.heap_bytes() <= held,
        "heap_bytes does not over-count"
    );
    drop(journal);
    assert!(
        LIVE.load(Ordering::Relaxed) - before < 1024 * 1024,
        "all freed"
    );
}
