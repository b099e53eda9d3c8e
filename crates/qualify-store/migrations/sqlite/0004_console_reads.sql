-- The operator reads of the console: the review queue filtered by partner or by qualification,
-- oldest first, and the event stream of one partner (audit events after a sequence number).
-- (The index of audit events by partner is made by 0003.)

CREATE INDEX qualifications_by_partner_status ON qualifications (partner_id, vetting_status, vetting_create_date, id);
CREATE INDEX qualifications_by_status_kind ON qualifications (vetting_status, qualification, vetting_create_date, id);
