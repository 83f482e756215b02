-- dvs catalog, migration 0008. Blobs stored as they are (codec 5, `stored`): audio a large commit appended
-- without coding it, for dvs repack to code. The partial index keeps finding them O(such blobs), however
-- many blobs the catalog holds; it is empty once every pack is coded.
CREATE INDEX blob_stored ON blob(pack_id) WHERE codec = 5;
