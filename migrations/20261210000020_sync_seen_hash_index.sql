-- The seen set's key was a btree on (id, run_id), written with
-- `ON CONFLICT DO NOTHING`: each id a walk recorded cost a probe of the key
-- and an insert into it, among random text keys that outgrow the shared
-- buffers next to the mirrored table itself. A walk records each id once
-- (it looks its page's ids up first, those of the pages in flight in
-- memory, and drops from the page the ids it had), so nothing relies on the
-- key: a hash index on `id` finds a page's ids (`id = ANY(...)`, filtered by
-- `run_id`) and the ids a walk did not see, at a fraction of the cost (4-byte
-- hash codes, no text comparisons), and the ids are inserted plainly.
ALTER TABLE tokportal.sync_seen DROP CONSTRAINT sync_seen_pkey;
CREATE INDEX sync_seen_id_idx ON tokportal.sync_seen USING hash (id);
