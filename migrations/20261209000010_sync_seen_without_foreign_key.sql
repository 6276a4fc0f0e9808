-- The seen set's foreign key to sync_runs ran a trigger for every id a page
-- delivered (a probe of sync_runs and a row lock on the run's row: 100 a
-- page), about a third of the statement recording a page's ids and
-- checkpoint (1.1 ms -> 0.7 ms a page, walking 100,000 bundles). It
-- protected nothing: only mirror::runs writes the table, always for the run
-- it is recording, and it forgets a run's ids itself as the run ends
-- (`runs::finish`) or with every run (`runs::empty`, the seen set first);
-- nothing deletes a run whose ids are held.
ALTER TABLE tokportal.sync_seen DROP CONSTRAINT IF EXISTS sync_seen_run_id_fkey;
