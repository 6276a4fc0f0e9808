-- Views for the questions people ask of the mirror (docs/mirror.md, "Queries
-- people run"). Live rows only; each joins the streams it needs, so a view
-- over a stream that is not mirrored is simply empty in those columns.

-- Bundles' delivered accounts are looked up by saved_account_id.
CREATE INDEX bundles_saved_account_idx ON tokportal.bundles (saved_account_id)
    WHERE saved_account_id IS NOT NULL AND deleted_at IS NULL;

-- Each live bundle with its delivered account, the account's latest ban
-- and its latest analytics snapshot.
CREATE VIEW tokportal.bundle_overview AS
SELECT b.id AS bundle_id, b.status, b.bundle_type, b.platform, b.country, b.title, b.external_ref,
       b.created_at, b.saved_account_id AS account_id, a.username, a.status AS account_status, a.banned,
       ban.id AS latest_ban_id, ban.status AS latest_ban_status, ban.resolution AS latest_ban_resolution,
       ban.reason AS latest_ban_reason, ban.banned_at AS latest_ban_at,
       an.day AS analytics_day, an.followers, an.following, an.likes, an.videos, an.views,
       an.engagement_rate
FROM tokportal.bundles AS b
LEFT JOIN tokportal.accounts AS a ON a.id = b.saved_account_id AND a.deleted_at IS NULL
LEFT JOIN LATERAL (
    SELECT x.id, x.status, x.resolution, x.reason, x.banned_at
    FROM tokportal.account_bans AS x
    WHERE x.account_id = b.saved_account_id AND x.deleted_at IS NULL
    ORDER BY x.banned_at DESC NULLS LAST, x.created_at DESC NULLS LAST, x.id DESC
    LIMIT 1
) AS ban ON true
LEFT JOIN LATERAL (
    SELECT s.day, s.followers, s.following, s.likes, s.videos, s.views, s.engagement_rate
    FROM tokportal.account_analytics_snapshots AS s
    WHERE s.account_id = b.saved_account_id
    ORDER BY s.day DESC
    LIMIT 1
) AS an ON true
WHERE b.deleted_at IS NULL;

-- Bans of the last 7 days (by banned_at), with the account and the live
-- bundles it was delivered for.
CREATE VIEW tokportal.recent_account_bans AS
SELECT x.id AS ban_id, x.account_id, a.username, a.platform, a.country, x.status, x.resolution,
       x.reason, x.banned_at,
       coalesce((SELECT array_agg(b.id ORDER BY b.id) FROM tokportal.bundles AS b
                 WHERE b.saved_account_id = x.account_id AND b.deleted_at IS NULL), '{}') AS bundle_ids
FROM tokportal.account_bans AS x
LEFT JOIN tokportal.accounts AS a ON a.id = x.account_id AND a.deleted_at IS NULL
WHERE x.deleted_at IS NULL AND x.banned_at >= now() - interval '7 days';

-- Comment tasks not done yet (status pending or in_progress, an assumption:
-- the reference lists the endpoint, not its statuses), per account.
CREATE VIEW tokportal.pending_comments_per_account AS
SELECT c.saved_account_id AS account_id, a.username, a.platform,
       count(*) AS pending,
       count(*) FILTER (WHERE c.status = 'pending') AS not_started,
       count(*) FILTER (WHERE c.status = 'in_progress') AS in_progress,
       min(c.created_at) AS oldest_created_at
FROM tokportal.comments AS c
LEFT JOIN tokportal.accounts AS a ON a.id = c.saved_account_id AND a.deleted_at IS NULL
WHERE c.deleted_at IS NULL AND c.status IN ('pending', 'in_progress')
GROUP BY c.saved_account_id, a.username, a.platform;

-- The credit balance each time it changed, with the change and until when it held.
CREATE VIEW tokportal.credit_balance_history AS
SELECT s.taken_at, s.balance,
       s.balance - lag(s.balance) OVER (ORDER BY s.taken_at, s.id) AS change,
       lead(s.taken_at) OVER (ORDER BY s.taken_at, s.id) AS until
FROM tokportal.credit_balance_snapshots AS s;

-- Deliveries the API says failed, with their endpoint, and whether our
-- receiver stored the event anyway (webhook_events, by the signed event id).
CREATE VIEW tokportal.failed_webhook_deliveries AS
SELECT d.id AS delivery_id, d.webhook_id, e.url AS endpoint_url, d.event_id, d.event_type,
       d.status_code, d.attempts, d.error, d.created_at,
       r.received_at, r.received_at IS NOT NULL AS received
FROM tokportal.webhook_deliveries AS d
LEFT JOIN tokportal.webhook_endpoints AS e ON e.id = d.webhook_id
LEFT JOIN tokportal.webhook_events AS r ON r.id = d.event_id
WHERE d.deleted_at IS NULL AND d.success = false;
