-- dvs catalog, migration 0003. Lineage: model and eval records (objects in .dvs/objects,
-- schema/FORMAT.md § Lineage records) indexed for 'dvs models' and 'dvs audit'. Derived: the
-- records are the truth, and 'dvs reindex' rebuilds these tables from them.

-- One row per model record.
CREATE TABLE model (
    id          TEXT PRIMARY KEY,          -- model record id: SHA-256 of the record's bytes, 64 hex
    name        TEXT NOT NULL,             -- display name (--name, else the artifact's file name)
    artifact    TEXT NOT NULL,             -- SHA-256 of the artifact's bytes, 64 hex
    snapshot    TEXT NOT NULL,             -- training snapshot commit id, 64 hex
    revision    TEXT NOT NULL,             -- the revision as given (main, cohort/es, v1)
    created_at  REAL NOT NULL              -- training end time, unix seconds
) WITHOUT ROWID;
CREATE INDEX model_artifact ON model(artifact);
CREATE INDEX model_snapshot ON model(snapshot);
CREATE INDEX model_name ON model(name);

-- One row per eval record.
CREATE TABLE eval (
    id          TEXT PRIMARY KEY,          -- eval record id, 64 hex
    model       TEXT NOT NULL,             -- the model record evaluated (model.id; not enforced: records may arrive in any order)
    snapshot    TEXT NOT NULL,             -- evaluation snapshot commit id, 64 hex
    created_at  REAL NOT NULL              -- evaluation end time, unix seconds
) WITHOUT ROWID;
CREATE INDEX eval_model ON eval(model);
CREATE INDEX eval_snapshot ON eval(snapshot);
