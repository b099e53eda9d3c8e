-- Webhooks (events.md 1-2). One registration per partner tenant; an event's delivery is a job
-- of kind 'webhook-delivery' (its payload is the event), enqueued in the transition's
-- transaction; every attempt is a row of webhook_attempts; the RSA key that signs every
-- delivery is generated once and kept here, so every instance signs alike.
CREATE TABLE webhook_registrations (
    partner_id      TEXT PRIMARY KEY,
    subscriber_id   TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    events          TEXT    NOT NULL, -- JSON array of event names
    secret          TEXT    NOT NULL,
    previous_secret TEXT,
    previous_until  INTEGER,
    disabled        TEXT,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id        INTEGER NOT NULL,
    partner_id    TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    response_code INTEGER,
    error         TEXT,
    duration_ms   INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_job ON webhook_attempts (job_id, id);

CREATE TABLE signing_keys (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    private_key TEXT    NOT NULL,
    certificate TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE INDEX jobs_by_kind ON jobs (kind, partner_id, id);

-- The children of a qualification and of a customer, by their parent: deleting qualifications
-- and customers (a reset, a restore, a customer's removal) checks the foreign keys of
-- audit_events, jobs and gdap_grants row by row, which without these scanned those tables once
-- per deleted row (a reset of 10,000 customers beside a partner with 40,000 GDAP grants took
-- seconds).
CREATE INDEX audit_events_by_qualification_id ON audit_events (qualification_id);
CREATE INDEX jobs_by_qualification ON jobs (qualification_id);
CREATE INDEX gdap_grants_by_customer ON gdap_grants (customer_id);
