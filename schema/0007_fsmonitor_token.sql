-- dvs catalog, migration 0007. The file-system monitor's token (core.fsmonitor), kept with the stat cache
-- it describes so that a whole-tree status or commit looks only at the paths the monitor saw change.
-- fsmonitor_token holds the token taken before the scan that last brought the stat cache up to date for
-- the whole tree (daemon instance ':' sequence): every path changed since is reported by the daemon.
-- fsmonitor_pending holds the paths that scan left as candidates (files whose row does not hold, rows
-- whose file is gone, files of other kinds): the next scan looks at them again. A stat cache row deleted
-- while a token is held adds its path here (the file, if any, then has no row). Derived: deleting both
-- tables' rows makes the next scan walk the whole tree.
CREATE TABLE fsmonitor_token (
    one    INTEGER PRIMARY KEY CHECK (one = 1),  -- a single row
    token  TEXT NOT NULL                         -- '<16 hex>:<sequence>'
);
CREATE TABLE fsmonitor_pending (
    path  BLOB PRIMARY KEY                       -- path bytes relative to the root
) WITHOUT ROWID;
CREATE TRIGGER fsmonitor_row_deleted AFTER DELETE ON stat_cache WHEN EXISTS (SELECT 1 FROM fsmonitor_token)
BEGIN
    INSERT OR IGNORE INTO fsmonitor_pending(path) VALUES (OLD.path);
END;
