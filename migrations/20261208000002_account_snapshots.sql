-- The per-parent and snapshot streams (issue "the whole account in
-- Postgres"): webhook deliveries listed per endpoint, the credit balance and
-- each account's daily analytics. The reference names these endpoints but
-- not their bodies: a typed column is NULL when the API's item has no such
-- field or a value of another shape, and `data` holds the item either way
-- (without any key named `secret` or ending in `_secret`).

-- GET /webhooks/{id}/deliveries, walked for each live row of
-- tokportal.webhook_endpoints. `webhook_id` is the endpoint the delivery was
-- listed under. A delivery is marked deleted when two complete walks of its
-- endpoint missed it, or with its endpoint.
CREATE TABLE tokportal.webhook_deliveries (
    id            text PRIMARY KEY,
    webhook_id    text NOT NULL,
    event_id      text,
    event_type    text,
    success       boolean,
    status_code   integer,
    attempts      integer,
    error         text,
    created_at    timestamptz,
    delivered_at  timestamptz,
    data          jsonb NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    missing_walks integer NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_webhook_idx ON tokportal.webhook_deliveries (webhook_id) WHERE deleted_at IS NULL;
CREATE INDEX webhook_deliveries_failed_idx ON tokportal.webhook_deliveries (created_at)
    WHERE success = false AND deleted_at IS NULL;

-- GET /credits/balance: a row only when the answer differs from the latest row.
CREATE TABLE tokportal.credit_balance_snapshots (
    id       bigserial PRIMARY KEY,
    balance  numeric,
    data     jsonb NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_balance_snapshots_taken_at_idx ON tokportal.credit_balance_snapshots (taken_at);

-- GET /accounts/{id}/analytics: one row per account and day (the answer's
-- `date`, else the UTC day it was taken), rewritten only when it changed.
CREATE TABLE tokportal.account_analytics_snapshots (
    account_id      text NOT NULL,
    day             date NOT NULL,
    followers       bigint,
    following       bigint,
    likes           bigint,
    videos          bigint,
    views           bigint,
    engagement_rate numeric,
    data            jsonb NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    changed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, day)
);

-- When each parent row's requests of a per-parent stream were last made
-- (an endpoint's deliveries walked to their end, an account's analytics
-- fetched): runs take the parents fetched longest ago first, so a run
-- capped by sync.max_requests_per_run leaves the rest to the next ones.
-- A walk of an endpoint's deliveries in progress keeps its checkpoint here
-- (`walk_pass`: which filtered walk, `walk_page`: its last committed page),
-- written in each page's transaction; a run stopped mid-walk resumes there.
-- Kept apart from the parent tables so a fetch never rewrites them.
CREATE TABLE tokportal.parent_fetches (
    stream          text NOT NULL,
    parent_id       text NOT NULL,
    fetched_at      timestamptz,
    walk_started_at timestamptz,
    walk_pass       integer,
    walk_page       integer,
    PRIMARY KEY (stream, parent_id)
);

-- Runs of these streams: `parents` (requests per parent row, in rotation)
-- and `snapshot` (one request, a row when it changed).
ALTER TABLE tokportal.sync_runs DROP CONSTRAINT sync_runs_kind_check;
ALTER TABLE tokportal.sync_runs ADD CONSTRAINT sync_runs_kind_check
    CHECK (kind IN ('full', 'routine', 'resumed', 'children', 'parents', 'snapshot'));
