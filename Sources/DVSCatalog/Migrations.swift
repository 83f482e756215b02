// The catalog migrations. Each string must equal the file of the same name in schema/ (a test checks).
enum Migrations {
    /// `schema/0001_init.sql`.
    static let m0001Init = #"""
-- dvs catalog, migration 0001. SQLite 3, WAL mode. Never edit once released: add 0002_….sql.
-- Everything here except ref, reflog, stat_cache and config can be rebuilt from .dvs/objects
-- and .dvs/packs (objects are the truth; the catalog is derived).

-- Named pointers to commits: branches, tags, and HEAD.
CREATE TABLE ref (
    name      TEXT PRIMARY KEY,            -- 'HEAD', 'refs/heads/<branch>', 'refs/tags/<tag>'
    target    TEXT,                        -- commit id, 64 lower-case hex; NULL when symbolic or unborn
    symbolic  TEXT                         -- for HEAD on a branch: the branch ref name; NULL when detached
) WITHOUT ROWID;

-- Every move of every ref, oldest first, written in the same transaction as the move.
CREATE TABLE reflog (
    id        INTEGER PRIMARY KEY,         -- order of the moves
    ref       TEXT NOT NULL,               -- ref name as in ref.name
    old       TEXT,                        -- commit id before the move; NULL when the ref was created
    new       TEXT,                        -- commit id after the move; NULL when the ref was deleted
    time      INTEGER NOT NULL,            -- unix seconds
    who       TEXT NOT NULL,               -- 'Name <email>' of the committer
    message   TEXT NOT NULL                -- 'commit: <subject>', 'checkout: moving from a to b', …
);
CREATE INDEX reflog_ref ON reflog(ref, id);

-- Pack files in .dvs/packs/<id>.pack.
CREATE TABLE pack (
    id          TEXT PRIMARY KEY,          -- SHA-256 of the pack bytes before its trailing checksum, hex
    byte_count  INTEGER NOT NULL,          -- file size in bytes
    blob_count  INTEGER NOT NULL,          -- number of blobs in it
    created_at  INTEGER NOT NULL           -- unix seconds
) WITHOUT ROWID;

-- Where each blob (file content) is stored. Mirrors the packs' own indexes.
CREATE TABLE blob (
    id             BLOB PRIMARY KEY,       -- SHA-256 of the original bytes, 32 raw bytes
    pack_id        TEXT NOT NULL REFERENCES pack(id),  -- the pack that holds it
    pack_offset    INTEGER NOT NULL,       -- byte offset of its zstd frame in the pack
    stored_length  INTEGER NOT NULL,       -- length of that frame in bytes
    raw_length     INTEGER NOT NULL,       -- length of the original bytes
    codec          INTEGER NOT NULL        -- transform before zstd: 0 none, 1 pcm16 delta planes (schema/FORMAT.md)
) WITHOUT ROWID;
CREATE INDEX blob_pack ON blob(pack_id);

-- Commits known to this repository, for id-prefix lookups and log without reading objects.
CREATE TABLE commit_meta (
    id            TEXT PRIMARY KEY,        -- commit id, hex
    manifest      TEXT NOT NULL,           -- root manifest chunk id, hex
    first_parent  TEXT,                    -- first parent's id, hex; NULL for a root commit
    time          INTEGER NOT NULL         -- committer time, unix seconds
) WITHOUT ROWID;
CREATE INDEX commit_meta_first_parent ON commit_meta(first_parent);

-- The working tree's stat cache: what each file hashed to when it had this size/mtime/inode,
-- so status re-hashes only files whose stat changed (and racily-clean ones, see FORMAT.md).
CREATE TABLE stat_cache (
    path          BLOB PRIMARY KEY,        -- path bytes relative to the tree root, '/'-separated, not normalised
    byte_count    INTEGER NOT NULL,        -- st_size
    mtime_ns      INTEGER NOT NULL,        -- st_mtim in nanoseconds since 1970
    ctime_ns      INTEGER NOT NULL,        -- st_ctim in nanoseconds since 1970
    inode         INTEGER NOT NULL,        -- st_ino
    mode          INTEGER NOT NULL,        -- st_mode (type and permission bits)
    blob          BLOB NOT NULL,           -- SHA-256 of the content (of the link target for symlinks), 32 bytes
    container     TEXT,                    -- audio container (libsndfile major format) or NULL when not audio
    encoding      TEXT,                    -- audio encoding (libsndfile subtype) or NULL
    sample_rate   INTEGER,                 -- Hz, or NULL
    channels      INTEGER,                 -- channel count, or NULL
    frames        INTEGER,                 -- frames, or NULL
    warning       TEXT,                    -- a problem found when the content was read: '<kind>\t<message>' (see ScanWarning), or NULL
    recorded_at_ns INTEGER NOT NULL        -- wall-clock time the entry was recorded, ns since 1970
) WITHOUT ROWID;

-- Repository settings (`dvs config KEY [VALUE]`).
CREATE TABLE config (
    key    TEXT PRIMARY KEY,               -- e.g. 'core.lock-timeout', 'pack.target-size', 'zstd.level'
    value  TEXT NOT NULL                   -- the setting as text
) WITHOUT ROWID;

"""#
    /// In order: (identifier, SQL).
    static let all: [(String, String)] = [("0001_init", m0001Init)]
}
