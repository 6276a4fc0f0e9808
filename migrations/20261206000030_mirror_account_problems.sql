-- The mirror's exactness: missing rows left unchecked, items and bundles set
-- aside as problems, and the account the mirror holds.

ALTER TABLE tokportal.sync_runs
    -- Rows a complete walk missed that this run could not check (more were
    -- missing than sync.max_delete_checks): they stay live, and those missed
    -- longest (`missing_walks`) are checked first by the next walks.
    ADD COLUMN delete_unchecked integer NOT NULL DEFAULT 0,
    -- Items or bundles this run set aside in tokportal.sync_problems.
    ADD COLUMN problems integer NOT NULL DEFAULT 0;

-- A run that went on past items or bundles it could not use ends
-- `succeeded_with_problems`.
ALTER TABLE tokportal.sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE tokportal.sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'succeeded_with_problems', 'failed', 'interrupted'));

-- What a run set aside instead of stopping: a list item without a usable id
-- (`subject` = 'page N'), a bundle whose children failed (`subject` = its id),
-- an id that is not one safe path segment. A bundle's entry is retried after
-- `next_attempt_at` (backoff doubling with `attempts`) and removed once it
-- succeeds.
CREATE TABLE tokportal.sync_problems (
    stream          text NOT NULL,
    subject         text NOT NULL,
    code            text NOT NULL,
    excerpt         text NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 1,
    next_attempt_at timestamptz NOT NULL,
    PRIMARY KEY (stream, subject)
);

-- The account this database mirrors (`id` of GET /me), written by the first
-- sync and checked by every run that writes. One row at most.
-- `key_fingerprints`: the keys (their fingerprints, never the keys) whose
-- GET /me named this account; a key's account does not change, so a run
-- with one of them needs no request to check it.
CREATE TABLE tokportal.mirror_account (
    only_row         boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    account_id       text NOT NULL,
    key_fingerprints text[] NOT NULL DEFAULT '{}',
    bound_at         timestamptz NOT NULL DEFAULT now()
);
