-- Every accepted webhook delivery, once (the event id is the key, so a
-- redelivery inserts nothing), kept until it is processed: the refresh reads
-- pending events from here, so an event stored just before a crash is still
-- refreshed after the restart.
CREATE TABLE tokportal.webhook_events (
    id            text PRIMARY KEY,
    type          text NOT NULL,
    -- The bundle the event names (data.bundle_id or data.id), when it names one.
    bundle_id     text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    envelope      jsonb NOT NULL,
    -- What the refresh did ("bundle", "bundle,videos", "nothing: unknown type", ...).
    refreshed     text,
    refreshed_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    -- A failed refresh is tried again from then (backoff kept in the row, so a restart keeps it).
    run_after     timestamptz NOT NULL DEFAULT now(),
    last_error    text
);

CREATE INDEX webhook_events_pending ON tokportal.webhook_events (received_at) WHERE refreshed_at IS NULL;
