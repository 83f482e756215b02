-- dvs catalog, migration 0002. Audio facts gain per-channel levels (manifest format 2).
-- Cached rows from before this migration lack them, so the stat cache is emptied: the next
-- status or commit re-reads every file once.
ALTER TABLE stat_cache ADD COLUMN levels BLOB;  -- per channel: peak then RMS, float32 little-endian each; NULL when not audio
DELETE FROM stat_cache;
