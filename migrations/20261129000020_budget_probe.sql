-- A long 429 block is probed instead of waited out: while more than
-- api.probe_interval_secs of it are left, the first booking to reach
-- probe_at is sent as a probe and moves probe_at one interval on, in the same
-- locked update, so one request per interval probes across every process of
-- the key. NULL: no probe planned (the next booking into a long block probes).
ALTER TABLE tokportal.api_budgets ADD COLUMN probe_at timestamptz;
