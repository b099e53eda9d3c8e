-- Fault injection (control.md section 5): the rules every instance applies, in the order they
-- were added (seq), with their counters. A hit and its firing are decided in one transaction.
CREATE TABLE faults (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    partner_id TEXT,
    spec TEXT NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    fired INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX faults_by_partner ON faults (partner_id, seq);
