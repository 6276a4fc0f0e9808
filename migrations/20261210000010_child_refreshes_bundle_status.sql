-- The bundle's status when its children were fetched. A terminal bundle's
-- slots and account no longer move, so a bundle fetched while terminal that
-- changes to another terminal status needs no new fetch, and one that comes
-- back from a terminal status has had stale children only since it came
-- back. NULL (rows recorded before this column) counts as non-terminal: such
-- a bundle gets the fetch it would have had before.
ALTER TABLE tokportal.child_refreshes ADD COLUMN bundle_status text;
