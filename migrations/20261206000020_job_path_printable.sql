-- A queued path is printable ASCII without spaces. URL parsers strip tabs and
-- newlines before resolving `.` and `..`, so E'/.\t./.\t./x' passed the check
-- on dot segments and left api.base_url once joined to it. `worker enqueue`
-- refuses the same paths with a sentence, and the replayer checks every path
-- again before sending it (jobs::validate::check_sendable).
ALTER TABLE tokportal.mutation_jobs
    ADD CONSTRAINT mutation_jobs_path_printable CHECK (path ~ '^[!-~]+$') NOT VALID;

-- Rows already in the table: the checks are validated when every row passes
-- them; otherwise the migration says which jobs fail and leaves them (they
-- may be finished history), and the replayer fails any of them that is still
-- due with the reason, without sending it.
DO $$
DECLARE
    printable bigint[];
    inside bigint[];
BEGIN
    SELECT array_agg(id ORDER BY id) INTO printable
    FROM tokportal.mutation_jobs WHERE path !~ '^[!-~]+$';
    SELECT array_agg(id ORDER BY id) INTO inside
    FROM tokportal.mutation_jobs
    WHERE NOT (path !~ '^//' AND strpos(path, '\') = 0 AND strpos(path, '://') = 0
               AND path !~* '^[^?#]*/(\.|%2e){1,2}([/?#]|$)');
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
END $$;
