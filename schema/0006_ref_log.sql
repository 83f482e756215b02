-- dvs catalog, migration 0006. Refs and the reflog are also kept in the file .dvs/reflog (one line per
-- move, appended and fsynced before the transaction that moves the ref commits; schema/FORMAT.md §8.1),
-- so that 'dvs reindex' can rebuild them when this file is lost or damaged. The catalog records how
-- many bytes of that file its committed transactions cover: a longer file ends in moves that a killed
-- process never committed here (the next ref move cuts them off); a shorter one was damaged (the next
-- ref move writes it again from these tables).
-- The application id marks the file as a dvs catalog (0x44565331, 'DVS1'); another SQLite database
-- is refused. Catalogs made before this migration have id 0 and are recognised by their migrations.
PRAGMA application_id = 1146508081;
CREATE TABLE ref_log (
    one     INTEGER PRIMARY KEY CHECK (one = 1),  -- a single row
    length  INTEGER NOT NULL                      -- bytes of .dvs/reflog that committed ref moves cover
);
