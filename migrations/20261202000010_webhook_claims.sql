-- Several workers may share one database (replicas, a CronJob beside a
-- daemon): a refresher claims a batch of pending events with FOR UPDATE
-- SKIP LOCKED and holds it until claimed_until, so no two processes send the
-- same GETs for it. `claim` names the claim: only the process holding the
-- current one records the outcome, and a crashed process's batch is claimed
-- again once its lease ends.
ALTER TABLE tokportal.webhook_events
    ADD COLUMN claimed_until timestamptz,
    ADD COLUMN claim         uuid;

-- The claim gathers a bundle's pending events.
CREATE INDEX webhook_events_pending_bundle ON tokportal.webhook_events (bundle_id)
    WHERE refreshed_at IS NULL;

-- A refresh that failed webhooks.max_attempts times is given up: failed_at
-- set, last_error kept, never claimed again (a 403 or a malformed answer
-- would otherwise cost budget every few minutes forever).
ALTER TABLE tokportal.webhook_events ADD COLUMN failed_at timestamptz;

DROP INDEX tokportal.webhook_events_pending;
CREATE INDEX webhook_events_pending ON tokportal.webhook_events (received_at)
    WHERE refreshed_at IS NULL AND failed_at IS NULL;

-- Handled events are pruned after webhooks.retention_days (by the daemon's
-- refresher), like finished jobs after jobs.retention_days; this index finds them.
CREATE INDEX webhook_events_handled ON tokportal.webhook_events ((coalesce(refreshed_at, failed_at)))
    WHERE refreshed_at IS NOT NULL OR failed_at IS NOT NULL;

COMMENT ON TABLE tokportal.webhook_events IS
    'Every accepted webhook delivery, once (the event id is the key, so a redelivery inserts nothing). '
    'Pending until refreshed (refreshed_at) or given up after webhooks.max_attempts (failed_at); '
    'kept webhooks.retention_days after that, then pruned by the daemon''s refresher. '
    'The refresh reads pending events from here, so an event stored just before a crash is still refreshed.';
