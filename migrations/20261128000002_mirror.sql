-- The mirror's bookkeeping.

-- Complete walks that did not see a row, in a row: a row missing from one
-- complete walk is confirmed (GET /bundles/{id}) or, when too many are
-- missing to check one by one, marked deleted only at its second miss.
ALTER TABLE tokportal.bundles ADD COLUMN missing_walks integer NOT NULL DEFAULT 0;
ALTER TABLE tokportal.bundle_videos ADD COLUMN missing_walks integer NOT NULL DEFAULT 0;
ALTER TABLE tokportal.bundle_accounts ADD COLUMN missing_walks integer NOT NULL DEFAULT 0;
ALTER TABLE tokportal.credit_transactions ADD COLUMN missing_walks integer NOT NULL DEFAULT 0;

-- Child tables are read per bundle: find a bundle's rows without a scan.
CREATE INDEX bundle_videos_live_idx ON tokportal.bundle_videos (bundle_id) WHERE deleted_at IS NULL;

ALTER TABLE tokportal.sync_runs
    -- full: every page, may mark deletes; routine: the ledger's head only;
    -- resumed: continues an interrupted walk, never marks deletes; children:
    -- a child stream's planned requests.
    ADD COLUMN kind text NOT NULL DEFAULT 'full'
        CHECK (kind IN ('full', 'routine', 'resumed', 'children')),
    ADD COLUMN complete boolean NOT NULL DEFAULT false,
    ADD COLUMN rereads integer NOT NULL DEFAULT 0,
    ADD COLUMN unchanged bigint NOT NULL DEFAULT 0,
    ADD COLUMN delete_checks integer NOT NULL DEFAULT 0,
    ADD COLUMN plan jsonb,
    ADD COLUMN note text;

-- What a walk saw: one row per id a run delivered, written in the same
-- transaction as the page's rows. It is how an unchanged row is counted as
-- seen without being rewritten, how a complete walk knows exactly which rows
-- it did not see, and the walker's de-duplication (`anchor`: see
-- api::cursor), so the worker's memory does not grow with the account.
-- Rows of a run are removed when the run ends. UNLOGGED: no WAL for what
-- is only a walk's scratch memory. A Postgres crash empties it; a walk
-- whose seen set no longer holds every id it delivered marks nothing
-- deleted (mirror::walk checks the count before deletes).
CREATE UNLOGGED TABLE tokportal.sync_seen (
    run_id bigint NOT NULL REFERENCES tokportal.sync_runs (id) ON DELETE CASCADE,
    id     text NOT NULL,
    anchor boolean NOT NULL,
    -- `id` first: a page looks up its ids with `id = ANY(...)` and the
    -- planner can then only probe each id, never scan the whole run
    -- (which made each page cost grow with the account).
    PRIMARY KEY (id, run_id)
);

-- When each bundle's children were last fetched, per child stream, and the
-- bundle's `changed_at` at that time: a bundle that changed since is
-- refreshed first. Kept apart from `bundles` so a refresh never rewrites it.
CREATE TABLE tokportal.child_refreshes (
    stream            text NOT NULL,
    bundle_id         text NOT NULL,
    refreshed_at      timestamptz NOT NULL,
    bundle_changed_at timestamptz NOT NULL,
    PRIMARY KEY (stream, bundle_id)
);
