-- The bundle's status when its children were fetched, and for a bundle
-- fetched while terminal, when the mirror first saw its row change since
-- while it was non-terminal (its return). A terminal bundle's slots and
-- account no longer move, so such a bundle's children are stale only from
-- its return: continuous mode's round takes it in that order, not first as
-- if its children had been stale since a fetch they have not moved since.
-- NULL status (rows recorded before this column) counts as non-terminal.
ALTER TABLE tokportal.child_refreshes ADD COLUMN bundle_status text, ADD COLUMN returned_at timestamptz;
