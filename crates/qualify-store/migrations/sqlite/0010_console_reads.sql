-- The operator reads of the console: the review queue filtered by partner or by qualification,
-- oldest first, and the event stream of one partner (audit events after a sequence number).
-- (Numbered 0010 to leave 0003..0009 to the control-plane and webhook migrations.)

CREATE INDEX qualifications_by_partner_status ON qualifications (partner_id, vetting_status, vetting_create_date, id);
CREATE INDEX qualifications_by_status_kind ON qualifications (vetting_status, qualification, vetting_create_date, id);
CREATE INDEX audit_events_by_partner ON audit_events (partner_id, id);
