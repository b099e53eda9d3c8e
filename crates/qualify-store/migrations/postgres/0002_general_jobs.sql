-- The job queue holds jobs of any kind (vetting, webhook delivery, ...): a kind, a JSON payload,
-- the partner it works for, an optional subject qualification, the last error of a failed
-- attempt. Pending jobs of the previous release (kind 'vet') are kept as kind 'vetting'.

ALTER TABLE jobs ALTER COLUMN qualification_id DROP NOT NULL;
ALTER TABLE jobs ADD COLUMN payload JSONB NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN last_error TEXT;
UPDATE jobs SET kind = 'vetting' WHERE kind = 'vet';
CREATE INDEX jobs_by_partner ON jobs (partner_id, id);
