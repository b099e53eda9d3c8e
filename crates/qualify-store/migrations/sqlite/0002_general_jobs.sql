-- The job queue holds jobs of any kind (vetting, webhook delivery, ...): a kind, a JSON payload,
-- the partner it works for, an optional subject qualification, the last error of a failed
-- attempt. Pending jobs of the previous release (kind 'vet') are kept as kind 'vetting'.
-- SQLite cannot drop a NOT NULL constraint, so the table is rebuilt.

CREATE TABLE jobs_general (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    partner_id       TEXT    NOT NULL,
    qualification_id INTEGER REFERENCES qualifications (id),
    payload          TEXT    NOT NULL DEFAULT '{}',
    run_at           INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until      INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    done_at          INTEGER,
    outcome          TEXT
);

INSERT INTO jobs_general (id, kind, partner_id, qualification_id, payload, run_at, lease_owner,
                          lease_until, attempts, done_at, outcome)
SELECT id, CASE kind WHEN 'vet' THEN 'vetting' ELSE kind END, partner_id, qualification_id, '{}',
       run_at, lease_owner, lease_until, attempts, done_at, outcome
FROM jobs;

DROP TABLE jobs;
ALTER TABLE jobs_general RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE done_at IS NULL;
CREATE INDEX jobs_by_partner ON jobs (partner_id, id);
