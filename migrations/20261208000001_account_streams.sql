-- The other lists of the account (issue "the whole account in Postgres"),
-- each a list stream like `bundles`: `id` the item's id, typed columns users
-- filter on, `data` the item as the API returned it (for webhook endpoints:
-- without its secrets, which are never stored), and the bookkeeping columns
-- of `tokportal.bundles`. The reference names these endpoints and their
-- query parameters but not their items' fields: a typed column is NULL when
-- the API's item has no such field or a value of another shape, and `data`
-- holds the item either way.

-- GET /accounts: the delivered accounts. Deletes confirmed by GET /accounts/{id}.
CREATE TABLE tokportal.accounts (
    id            text PRIMARY KEY,
    platform      text,
    country       text,
    username      text,
    status        text,
    banned        boolean,
    banned_at     timestamptz,
    created_at    timestamptz,
    data          jsonb NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    missing_walks integer NOT NULL DEFAULT 0
);
CREATE INDEX accounts_banned_idx ON tokportal.accounts (banned) WHERE deleted_at IS NULL;
CREATE INDEX accounts_banned_at_idx ON tokportal.accounts (banned_at) WHERE banned_at IS NOT NULL;

-- GET /account-bans: no detail endpoint, so a ban is marked deleted only
-- after two complete walks missed it. Routine runs read `since` a time.
CREATE TABLE tokportal.account_bans (
    id            text PRIMARY KEY,
    account_id    text,
    status        text,
    resolution    text,
    reason        text,
    banned_at     timestamptz,
    created_at    timestamptz,
    updated_at    timestamptz,
    data          jsonb NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    missing_walks integer NOT NULL DEFAULT 0
);
CREATE INDEX account_bans_account_idx ON tokportal.account_bans (account_id, banned_at DESC);
CREATE INDEX account_bans_banned_at_idx ON tokportal.account_bans (banned_at);

-- GET /comments: comment tasks. Deletes confirmed by GET /comments/{id}.
CREATE TABLE tokportal.comments (
    id               text PRIMARY KEY,
    saved_account_id text,
    status           text,
    post_url         text,
    created_at       timestamptz,
    updated_at       timestamptz,
    data             jsonb NOT NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    changed_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    missing_walks    integer NOT NULL DEFAULT 0
);
CREATE INDEX comments_account_status_idx ON tokportal.comments (saved_account_id, status) WHERE deleted_at IS NULL;

-- GET /webhooks: the account's webhook endpoints. Deletes confirmed by
-- GET /webhooks/{id}. `data` never holds a key named `secret` or ending in
-- `_secret` (the mirror strips them before storing or comparing).
CREATE TABLE tokportal.webhook_endpoints (
    id            text PRIMARY KEY,
    url           text,
    enabled       boolean,
    events        text[],
    created_at    timestamptz,
    data          jsonb NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    missing_walks integer NOT NULL DEFAULT 0
);
