-- The test control plane's state (control.md 1-4), shared by every instance: the outcome a
-- scenario or test value chose for each request and the reads counted for `afterReads`; each
-- partner's scenario; the global and per-partner virtual clocks; the documents `--seed` applied.

ALTER TABLE qualifications ADD COLUMN choice TEXT;
ALTER TABLE qualifications ADD COLUMN reads INTEGER NOT NULL DEFAULT 0;
CREATE INDEX qualifications_by_partner ON qualifications (partner_id, id);
CREATE INDEX audit_events_by_partner ON audit_events (partner_id, id);

-- Domain time of the partner when the record was made (the 24-hour replay window follows the
-- partner's clock); created_at stays wall time (purges).
ALTER TABLE idempotency_records ADD COLUMN domain_at INTEGER;

CREATE TABLE scenarios (
    partner_id TEXT    PRIMARY KEY,
    rules      TEXT    NOT NULL,
    document   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- scope: 'global' or a partner tenant id. Exactly one of frozen_at (frozen) and offset_ms
-- (running: wall time plus the offset) is set.
CREATE TABLE clocks (
    scope     TEXT    PRIMARY KEY,
    frozen_at INTEGER,
    offset_ms INTEGER,
    CHECK ((frozen_at IS NULL) <> (offset_ms IS NULL))
);

CREATE TABLE seeds (
    sha256     TEXT    PRIMARY KEY,
    document   TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
);
