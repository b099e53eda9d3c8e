-- Times are Unix milliseconds chosen by the application's clock (never SQL defaults).

CREATE TABLE customers (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    partner_id      TEXT    NOT NULL,
    company_profile TEXT    NOT NULL,
    company_etag    TEXT    NOT NULL,
    billing_profile TEXT    NOT NULL,
    billing_etag    TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX customers_by_partner ON customers (partner_id, seq);

CREATE TABLE qualifications (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id         TEXT    NOT NULL REFERENCES customers (id),
    partner_id          TEXT    NOT NULL,
    qualification       TEXT    NOT NULL,
    vetting_status      TEXT    NOT NULL,
    vetting_reason      TEXT,
    vetting_create_date INTEGER NOT NULL,
    education_segment   TEXT,
    website             TEXT,
    validation_code     TEXT,
    etag                TEXT    NOT NULL,
    decided_at          INTEGER
);
CREATE INDEX qualifications_by_customer ON qualifications (customer_id, id);
CREATE INDEX qualifications_by_status ON qualifications (vetting_status, vetting_create_date, id);

CREATE TABLE validation_codes (
    validation_id     TEXT    PRIMARY KEY,
    partner_id        TEXT    NOT NULL,
    organization_name TEXT    NOT NULL,
    max_creates       INTEGER NOT NULL,
    remaining_creates INTEGER NOT NULL CONSTRAINT validation_codes_remaining_not_negative CHECK (remaining_creates >= 0),
    etag              TEXT    NOT NULL,
    created_at        INTEGER NOT NULL
);
CREATE INDEX validation_codes_by_partner ON validation_codes (partner_id, created_at);

CREATE TABLE validation_statuses (
    customer_id TEXT    PRIMARY KEY REFERENCES customers (id),
    status      TEXT    NOT NULL,
    last_update INTEGER NOT NULL
);

CREATE TABLE gdap_grants (
    partner_id  TEXT    NOT NULL,
    customer_id TEXT    NOT NULL REFERENCES customers (id),
    roles       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (partner_id, customer_id)
);

CREATE TABLE audit_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    qualification_id INTEGER NOT NULL REFERENCES qualifications (id),
    customer_id      TEXT    NOT NULL,
    partner_id       TEXT    NOT NULL,
    qualification    TEXT    NOT NULL,
    at               INTEGER NOT NULL,
    actor            TEXT    NOT NULL,
    from_status      TEXT,
    to_status        TEXT    NOT NULL,
    reason           TEXT,
    request_id       TEXT,
    correlation_id   TEXT,
    profile_etag     TEXT
);
CREATE INDEX audit_events_by_qualification ON audit_events (customer_id, qualification, id);

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    qualification_id INTEGER NOT NULL REFERENCES qualifications (id),
    partner_id       TEXT    NOT NULL,
    run_at           INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until      INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    done_at          INTEGER,
    outcome          TEXT
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE done_at IS NULL;

CREATE TABLE idempotency_records (
    partner_id  TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    response    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (partner_id, request_id)
);
CREATE INDEX idempotency_records_by_age ON idempotency_records (created_at);
