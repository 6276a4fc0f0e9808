-- A queued path is printable ASCII without spaces. URL parsers strip tabs and
-- newlines before resolving `.` and `..`, so E'/.\t./.\t./x' passed the check
-- on dot segments and left api.base_url once joined to it. `worker enqueue`
-- refuses the same paths with a sentence, and the replayer checks every path
-- again before sending it (jobs::validate::check_sendable).
ALTER TABLE tokportal.mutation_jobs
    ADD CONSTRAINT mutation_jobs_path_printable CHECK (path ~ '^[!-~]+$') NOT VALID;

-- The six operations that refuse idempotency keys, recognised on the path
-- as a server routes it (jobs::validate::is_sensitive does the same): case,
-- percent-encoded characters, repeated and trailing slashes do not hide
-- them (`POST /upload//video`, `/%77ebhooks`, `/Webhooks/`).
CREATE FUNCTION tokportal.mutation_job_route(path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    route text := lower(split_part(split_part(path, '?', 1), '#', 1));
    hex text[];
BEGIN
    -- One decoding pass: %25 (a `%`) stays encoded, so nothing decodes twice.
    LOOP
        hex := regexp_match(route, '%(2[0-46-9a-f]|[3-7][0-9a-f])');
        EXIT WHEN hex IS NULL;
        route := replace(route, '%' || hex[1], lower(chr(('x' || hex[1])::bit(8)::int)));
    END LOOP;
    RETURN rtrim(regexp_replace(route, '/{2,}', '/', 'g'), '/');
END $$;

ALTER TABLE tokportal.mutation_jobs
    ADD CONSTRAINT mutation_jobs_no_sensitive_routes CHECK (NOT (
        method = 'POST' AND tokportal.mutation_job_route(path) ~ ('^(/accounts/[^/]+/(verification-code|reveal-credentials)'
                                                     '|/webhooks|/upload/video|/upload/image|/analytics/export/reports)$')
    )) NOT VALID;

-- Rows already in the table: the checks are validated when every row passes
-- them; otherwise the migration says which jobs fail and leaves them (they
-- may be finished history), and the replayer fails any of them that is still
-- due with the reason, without sending it.
DO $$
DECLARE
    printable bigint[];
    inside bigint[];
    sensitive bigint[];
BEGIN
    SELECT array_agg(id ORDER BY id) INTO printable
    FROM tokportal.mutation_jobs WHERE path !~ '^[!-~]+$';
    SELECT array_agg(id ORDER BY id) INTO inside
    FROM tokportal.mutation_jobs
    WHERE NOT (path !~ '^//' AND strpos(path, '\') = 0 AND strpos(path, '://') = 0
               AND path !~* '^[^?#]*/(\.|%2e){1,2}([/?#]|$)');
    SELECT array_agg(id ORDER BY id) INTO sensitive
    FROM tokportal.mutation_jobs
    WHERE method = 'POST' AND tokportal.mutation_job_route(path) ~ ('^(/accounts/[^/]+/(verification-code|reveal-credentials)'
                                                    '|/webhooks|/upload/video|/upload/image|/analytics/export/reports)$');
    IF printable IS NULL THEN
        ALTER TABLE tokportal.mutation_jobs VALIDATE CONSTRAINT mutation_jobs_path_printable;
    ELSE
        RAISE WARNING 'mutation jobs % have a path that is not printable ASCII without spaces: '
            'the replayer fails them without sending them', printable;
    END IF;
    IF inside IS NULL THEN
        ALTER TABLE tokportal.mutation_jobs VALIDATE CONSTRAINT mutation_jobs_path_inside_base_url;
    ELSE
        RAISE WARNING 'mutation jobs % have a path that leaves api.base_url: '
            'the replayer fails them without sending them', inside;
    END IF;
    IF sensitive IS NULL THEN
        ALTER TABLE tokportal.mutation_jobs VALIDATE CONSTRAINT mutation_jobs_no_sensitive_routes;
    ELSE
        RAISE WARNING 'mutation jobs % are operations that refuse idempotency keys: '
            'the replayer fails them without sending them', sensitive;
    END IF;
END $$;
