-- dvs catalog, migration 0005. The stat cache as an index of HEAD (issue 12), so commit and status
-- look only at what changed. A row is settled (unsettled = 0) when its blob is the blob that the
-- snapshot of stat_cache_base.head holds at its path. While stat_cache_base names HEAD's commit:
-- every entry of that snapshot has a row (settled, or unsettled when something since saw a different
-- file there), and every settled row is an entry of it. Commands that cannot keep that true delete
-- the stat_cache_base row, and the next full scan of the tree sets it again.
ALTER TABLE stat_cache ADD COLUMN unsettled INTEGER NOT NULL DEFAULT 0;  -- 1: blob not known to equal the base snapshot's
CREATE INDEX stat_cache_unsettled ON stat_cache(path) WHERE unsettled = 1;
CREATE TABLE stat_cache_base (
    one   INTEGER PRIMARY KEY CHECK (one = 1),  -- a single row
    head  TEXT NOT NULL                         -- commit id (64 hex) the settled rows mirror
);

-- The label sources a commit's labels were built from (LabelTableInfo as JSON), so a commit that
-- changes no label source can report them without parsing them again. Derived: a miss makes the
-- next commit parse the label files.
CREATE TABLE label_sources (
    commit_id  TEXT PRIMARY KEY,               -- commit id, 64 hex
    tables     BLOB NOT NULL                   -- JSON array of {path, format, records, samples}
) WITHOUT ROWID;
