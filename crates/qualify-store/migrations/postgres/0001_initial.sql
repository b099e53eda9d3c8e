-- Times are Unix milliseconds chosen by the application's clock (never SQL defaults), as in the
-- SQLite schema, so both backends store exactly the same instants.

CREATE TABLE customers (
    seq             BIGSERIAL PRIMARY KEY,
    id              UUID   NOT NULL UNIQUE,
    partner_id      UUID   NOT NULL,
    company_profile JSONB  NOT NULL,
    company_etag    TEXT   NOT NULL,
    billing_profile JSONB  NOT NULL,
    billing_etag    TEXT   NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX customers_by_partner ON customers (partner_id, seq);

CREATE TABLE qualifications (
    id                  BIGSERIAL PRIMARY KEY,
    customer_id         UUID   NOT NULL REFERENCES customers (id),
    partner_id          UUID   NOT NULL,
    qualification       TEXT   NOT NULL,
    vetting_status      TEXT   NOT NULL,
    vetting_reason      TEXT,
    vetting_create_date BIGINT NOT NULL,
    education_segment   TEXT,
    website             TEXT,
    validation_code     TEXT,
    etag                TEXT   NOT NULL,
    decided_at          BIGINT
);
CREATE INDEX qualifications_by_customer ON qualifications (customer_id, id);
CREATE INDEX qualifications_by_status ON qualifications (vetting_status, vetting_create_date, id);

CREATE TABLE validation_codes (
    validation_id     TEXT   PRIMARY KEY,
    partner_id        UUID   NOT NULL,
    organization_name TEXT   NOT NULL,
    max_creates       BIGINT NOT NULL,
    remaining_creates BIGINT NOT NULL CONSTRAINT validation_codes_remaining_not_negative CHECK (remaining_creates >= 0),
    etag              TEXT   NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX validation_codes_by_partner ON validation_codes (partner_id, created_at);

CREATE TABLE validation_statuses (
    customer_id UUID   PRIMARY KEY REFERENCES customers (id),
    status      TEXT   NOT NULL,
    last_update BIGINT NOT NULL
);

CREATE TABLE gdap_grants (
    partner_id  UUID   NOT NULL,
    customer_id UUID   NOT NULL REFERENCES customers (id),
    roles       JSONB  NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (partner_id, customer_id)
);

CREATE TABLE audit_events (
    id               BIGSERIAL PRIMARY KEY,
    qualification_id BIGINT NOT NULL REFERENCES qualifications (id),
    customer_id      UUID   NOT NULL,
    partner_id       UUID   NOT NULL,
    qualification    TEXT   NOT NULL,
    at               BIGINT NOT NULL,
    actor            TEXT   NOT NULL,
    from_status      TEXT,
    to_status        TEXT   NOT NULL,
    reason           TEXT,
    request_id       TEXT,
    correlation_id   TEXT,
    profile_etag     TEXT
);
CREATE INDEX audit_events_by_qualification ON audit_events (customer_id, qualification, id);

CREATE TABLE jobs (
    id               BIGSERIAL PRIMARY KEY,
    kind             TEXT   NOT NULL,
    qualification_id BIGINT NOT NULL REFERENCES qualifications (id),
    partner_id       UUID   NOT NULL,
    run_at           BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    done_at          BIGINT,
    outcome          TEXT
);
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE done_at IS NULL;

CREATE TABLE idempotency_records (
    partner_id  UUID   NOT NULL,
    request_id  TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    response    TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (partner_id, request_id)
);
CREATE INDEX idempotency_records_by_age ON idempotency_records (created_at);

-- Wakes workers of every instance when a job is enqueued (see docs/deployment.md).
CREATE FUNCTION qualify_notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('qualify_jobs', NEW.run_at::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION qualify_notify_job();
