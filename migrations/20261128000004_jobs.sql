-- The mutation queue's bookkeeping: ordering, claims, outcomes, and every send.

ALTER TABLE tokportal.mutation_jobs
    -- Jobs with the same ordering key run one at a time, in id (enqueue)
    -- order. NULL: unordered. Defaults to the bundle id in the path (trigger below).
    ADD COLUMN ordering_key    text CHECK (length(ordering_key) BETWEEN 1 AND 255),
    -- Claims so far; the claim's number is also the attempt's number, and an
    -- outcome is recorded only by the claim that is still current.
    ADD COLUMN claims          integer NOT NULL DEFAULT 0 CHECK (claims >= 0),
    -- The API's error code of the last answer (IDEMPOTENCY_KEY_REUSED, …) and its details.
    ADD COLUMN error_code      text,
    ADD COLUMN error_details   jsonb,
    -- `credits_charged` of a 2xx answer that says so.
    ADD COLUMN credits_charged numeric;

-- `cancelled`: a job never sent, withdrawn by `worker jobs cancel`.
ALTER TABLE tokportal.mutation_jobs DROP CONSTRAINT mutation_jobs_status_check;
ALTER TABLE tokportal.mutation_jobs ADD CONSTRAINT mutation_jobs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'expired', 'cancelled'));

-- The claim's "an earlier unfinished job of the same ordering key" probe.
CREATE INDEX mutation_jobs_ordering_idx ON tokportal.mutation_jobs (ordering_key, id)
    WHERE status IN ('queued', 'running') AND ordering_key IS NOT NULL;
-- Housekeeping finds finished jobs by age.
CREATE INDEX mutation_jobs_finished_idx ON tokportal.mutation_jobs (finished_at)
    WHERE finished_at IS NOT NULL;

-- Every send of a job: written when the job is claimed (just before the
-- request leaves), completed when its outcome is recorded, so a send whose
-- worker died is still on record (with no status).
CREATE TABLE tokportal.mutation_attempts (
    job_id      bigint NOT NULL REFERENCES tokportal.mutation_jobs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms integer,
    http_status integer,
    error_code  text,
    replayed    boolean,
    -- The X-Request-ID this worker sent (the API echoes it).
    request_id  text,
    -- succeeded, retry, wait, failed, key_refused: how the answer was classified.
    outcome     text,
    error       text,
    PRIMARY KEY (job_id, attempt)
);

-- Default ordering key: the bundle id of /bundles/{id}/… (not /bundles/bulk),
-- so two mutations of one bundle never race. Plain INSERTs get it too.
CREATE FUNCTION tokportal.mutation_jobs_defaults() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ordering_key IS NULL THEN
        NEW.ordering_key := substring(NEW.path FROM '^/bundles/([^/?#]+)');
        IF NEW.ordering_key = 'bulk' THEN
            NEW.ordering_key := NULL;
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER mutation_jobs_defaults BEFORE INSERT ON tokportal.mutation_jobs
    FOR EACH ROW EXECUTE FUNCTION tokportal.mutation_jobs_defaults();

-- Wakes a replayer waiting with LISTEN tokportal_mutation_jobs. Delivered at
-- commit, so an application enqueueing inside its own transaction wakes
-- nobody until the job is visible.
CREATE FUNCTION tokportal.mutation_jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tokportal_mutation_jobs', NEW.id::text);
    RETURN NEW;
END $$;
CREATE TRIGGER mutation_jobs_notify AFTER INSERT ON tokportal.mutation_jobs
    FOR EACH ROW EXECUTE FUNCTION tokportal.mutation_jobs_notify();
