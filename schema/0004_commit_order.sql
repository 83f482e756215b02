-- dvs catalog, migration 0004. The order this repository recorded its commits (1, 2, …; a fetch
-- records parents before children), so log can order commits made within one second: later
-- recorded first. NULL for commits recorded before this migration (log then falls back to the id).
ALTER TABLE commit_meta ADD COLUMN recorded INTEGER;
CREATE INDEX commit_meta_recorded ON commit_meta(recorded);
