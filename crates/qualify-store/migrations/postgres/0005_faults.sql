-- Fault injection (control.md section 5): the rules every instance applies, in the order they
-- were added (seq), with their counters. A hit and its firing are decided in one transaction
-- under the fault's row lock, so `times` is exact across instances.
CREATE TABLE faults (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    partner_id UUID,
    spec TEXT NOT NULL,
    hits BIGINT NOT NULL DEFAULT 0,
    fired BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX faults_by_partner ON faults (partner_id, seq);
