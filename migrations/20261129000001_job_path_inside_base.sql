-- A queued path must stay inside api.base_url once joined to it: URL parsers
-- resolve `.` and `..` segments (also written %2e) and treat a backslash as
-- `/`, so `/../../x` would leave /api/ext. `worker enqueue` and `worker get`
-- refuse the same paths with a sentence (jobs::validate::check_path); this
-- keeps a plain INSERT honest too. NOT VALID: rows already queued are not
-- rechecked, so the migration cannot fail on an existing queue.
ALTER TABLE tokportal.mutation_jobs
    ADD CONSTRAINT mutation_jobs_path_inside_base_url CHECK (
        path !~ '^//'
        AND strpos(path, '\') = 0
        AND strpos(path, '://') = 0
        AND path !~* '^[^?#]*/(\.|%2e){1,2}([/?#]|$)'
    ) NOT VALID;
