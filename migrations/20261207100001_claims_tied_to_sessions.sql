-- A claim is tied to the Postgres session of the process that made it: the
-- process holds a session-level advisory lock on (1953459056, key) on a
-- connection of its own while it lives, and every claim records that key.
-- Another process may take a claimed job or webhook batch over as soon as
-- the key's lock is free (the session ended: the process died or lost its
-- connection), or, as before, once the claim's lease ended without renewal.
-- NULL for claims made before this column: those end with their lease only.
ALTER TABLE tokportal.mutation_jobs ADD COLUMN claimed_by integer;
ALTER TABLE tokportal.webhook_events ADD COLUMN claimed_by integer;

COMMENT ON COLUMN tokportal.mutation_jobs.claimed_by IS
    'The owner key of the session that claimed the job (pg_locks: advisory, classid 1953459056, objid = this); '
    'the claim ends when that lock is free or locked_until has passed.';
COMMENT ON COLUMN tokportal.webhook_events.claimed_by IS
    'The owner key of the session that claimed the event (pg_locks: advisory, classid 1953459056, objid = this); '
    'the claim ends when that lock is free or claimed_until has passed.';
