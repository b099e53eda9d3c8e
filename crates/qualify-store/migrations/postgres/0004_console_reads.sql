-- The operator reads of the console: the review queue filtered by partner or by qualification,
-- oldest first, and the event stream of one partner (audit events after a sequence number).
-- (The index of audit events by partner is made by 0003.)

CREATE INDEX qualifications_by_partner_status ON qualifications (partner_id, vetting_status, vetting_create_date, id);
CREATE INDEX qualifications_by_status_kind ON qualifications (vetting_status, qualification, vetting_create_date, id);

-- The event stream reads the audit trail in id order, but concurrent transactions commit their
-- ids out of order. A reader that finds a hole waits until every transaction that was running
-- when it saw the hole has ended (see `PgStore::transitions`); for that, a transaction must have
-- its transaction id before it takes an audit event id. This default makes sure of it, for
-- every insert.
CREATE FUNCTION qualify_next_audit_event_id() RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_current_xact_id();
    RETURN nextval('audit_events_id_seq');
END
$$;
ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT qualify_next_audit_event_id();
