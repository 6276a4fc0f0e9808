-- Which idempotency key each send carried: `worker jobs retry` judges a new
-- key from every send of the job, and a job that got BUNDLE_PRICING_CHANGED
-- is never sent again under the key that got it. NULL for sends recorded
-- before this column (their key is unknown, so they count as the current one).
ALTER TABLE tokportal.mutation_attempts ADD COLUMN idempotency_key text;

-- Once a job was sent under its key (or while a worker holds it), what the
-- key stands for cannot change: an edited body under the same key is a
-- different request to the API (IDEMPOTENCY_KEY_REUSED at best; after the
-- key's 24 h, a second execution). Before the first send, edits are fine.
-- A new key is minted only by `worker jobs retry ID --new-key` (which judges
-- the attempts first): a failed or expired job queued again, its first send
-- forgotten, in the same UPDATE. A send counts when an answer came back or
-- none was recorded (the outcome is unknown); not when it was never sent or
-- the key was refused.
CREATE FUNCTION tokportal.mutation_jobs_frozen_after_send() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sent boolean := OLD.first_sent_at IS NOT NULL OR OLD.status = 'running' OR EXISTS (
        SELECT 1 FROM tokportal.mutation_attempts a
        WHERE a.job_id = OLD.id
          AND (a.idempotency_key IS NULL OR a.idempotency_key = OLD.idempotency_key)
          AND (a.outcome IS NULL
               OR (a.outcome NOT IN ('not_sent', 'key_refused')
                   AND (a.http_status IS NOT NULL OR a.outcome = 'retry'))));
BEGIN
    IF NOT sent THEN
        RETURN NEW;
    END IF;
    IF NEW.method IS DISTINCT FROM OLD.method OR NEW.path IS DISTINCT FROM OLD.path
       OR NEW.body IS DISTINCT FROM OLD.body THEN
        RAISE EXCEPTION 'mutation job % was already sent under its idempotency key: its method, path and body cannot change', OLD.id
            USING ERRCODE = 'check_violation',
                  HINT = 'the API ties the key to the exact request; enqueue a new job for a different request';
    END IF;
    IF NEW.idempotency_key IS DISTINCT FROM OLD.idempotency_key
       AND NOT (OLD.status IN ('failed', 'expired') AND NEW.status = 'queued' AND NEW.first_sent_at IS NULL) THEN
        RAISE EXCEPTION 'mutation job % was already sent: its idempotency key cannot change', OLD.id
            USING ERRCODE = 'check_violation',
                  HINT = 'worker jobs retry ID --new-key mints a new key, saying whether that can charge twice';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER mutation_jobs_frozen_after_send
    BEFORE UPDATE OF method, path, body, idempotency_key ON tokportal.mutation_jobs
    FOR EACH ROW EXECUTE FUNCTION tokportal.mutation_jobs_frozen_after_send();
