-- The whole schema of tokportal-sync lives in its own Postgres schema so it
-- can share a database with the application that reads it.
CREATE SCHEMA IF NOT EXISTS tokportal;

-- Bundles as the API returned them. `data` is the item byte-for-byte in
-- meaning (jsonb), the typed columns are copies users filter on. The four
-- bookkeeping columns are maintained by the mirror: `changed_at` moves only
-- when `data` differs, `deleted_at` is set when a complete walk no longer saw
-- the row and cleared when it reappears.
CREATE TABLE tokportal.bundles (
    id               text PRIMARY KEY,
    status           text,
    bundle_type      text,
    platform         text,
    country          text,
    title            text,
    external_ref     text,
    saved_account_id text,
    created_at       timestamptz,
    data             jsonb NOT NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    changed_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);
CREATE INDEX bundles_status_idx ON tokportal.bundles (status) WHERE deleted_at IS NULL;
CREATE INDEX bundles_external_ref_idx ON tokportal.bundles (external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX bundles_created_at_idx ON tokportal.bundles (created_at);

-- Video slots are addressed by their 1-based position inside a bundle.
CREATE TABLE tokportal.bundle_videos (
    bundle_id     text NOT NULL REFERENCES tokportal.bundles (id),
    position      integer NOT NULL CHECK (position >= 1),
    status        text,
    data          jsonb NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    PRIMARY KEY (bundle_id, position)
);

-- One account configuration per bundle.
CREATE TABLE tokportal.bundle_accounts (
    bundle_id     text PRIMARY KEY REFERENCES tokportal.bundles (id),
    data          jsonb NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);

-- GET /credits/history. The reference does not document the item schema;
-- the typed columns are the fields the simulator emits and stay NULL when
-- the real API names them differently (`data` always holds the item).
CREATE TABLE tokportal.credit_transactions (
    id            text PRIMARY KEY,
    kind          text,
    amount        numeric,
    balance_after numeric,
    bundle_id     text,
    created_at    timestamptz,
    data          jsonb NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);
CREATE INDEX credit_transactions_created_at_idx ON tokportal.credit_transactions (created_at);

-- One row per stream walk. `last_page` is the checkpoint, written in the same
-- transaction as the page's rows.
CREATE TABLE tokportal.sync_runs (
    id                bigserial PRIMARY KEY,
    stream            text NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    status            text NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    resumed_from_page integer,
    pages             integer NOT NULL DEFAULT 0,
    items             bigint NOT NULL DEFAULT 0,
    inserted          bigint NOT NULL DEFAULT 0,
    updated           bigint NOT NULL DEFAULT 0,
    deleted           bigint NOT NULL DEFAULT 0,
    requests          bigint NOT NULL DEFAULT 0,
    rate_limited      bigint NOT NULL DEFAULT 0,
    budget_wait_secs  double precision NOT NULL DEFAULT 0,
    last_page         integer,
    error             text
);
CREATE INDEX sync_runs_stream_started_idx ON tokportal.sync_runs (stream, started_at DESC);

-- The mutation queue. Enqueueing is a plain INSERT (method, path, body): the
-- idempotency key is minted here, once, and never regenerated, and `body` is
-- the exact text sent on every attempt.
CREATE TABLE tokportal.mutation_jobs (
    id              bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE DEFAULT gen_random_uuid()::text
                    CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    method          text NOT NULL CHECK (method IN ('POST', 'PUT', 'PATCH', 'DELETE')),
    path            text NOT NULL CHECK (path LIKE '/%'),
    body            text,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'expired')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_after       timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    first_sent_at   timestamptz,
    response_status integer,
    response_body   text,
    replayed        boolean,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    -- These six operations answer with secrets and the API refuses an
    -- Idempotency-Key on them (IDEMPOTENCY_KEY_NOT_ALLOWED_FOR_SENSITIVE_RESPONSE),
    -- so they could never be retried safely: refuse them at enqueue.
    CONSTRAINT mutation_jobs_no_sensitive_operations CHECK (NOT (
        method = 'POST' AND path ~ ('^(/accounts/[^/?#]+/(verification-code|reveal-credentials)'
                                    '|/webhooks|/upload/video|/upload/image|/analytics/export/reports)/?([?#].*)?$')
    ))
);
CREATE INDEX mutation_jobs_due_idx ON tokportal.mutation_jobs (run_after) WHERE status IN ('queued', 'running');

-- The request budget of each API key, shared by every process using the key.
-- Keyed by a fingerprint (SHA-256 prefix), never the key. The budget is kept
-- as a GCRA "theoretical arrival time": a request may be sent at
-- `tat - burst / rate`, and sending it moves `tat` forward by `1 / rate`.
-- One atomic UPDATE per request reserves a slot, so processes never collide.
CREATE TABLE tokportal.api_budgets (
    key_fingerprint text PRIMARY KEY,
    tat             timestamptz NOT NULL DEFAULT clock_timestamp(),
    blocked_until   timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
