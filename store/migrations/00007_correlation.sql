-- +goose Up
-- The subject of a finding: the person and the device it is about, beside
-- its entity ({"person": {"id", "name"}, "device": {"id", "name"}}).
ALTER TABLE findings ADD COLUMN subject TEXT NOT NULL DEFAULT '{}';

-- Links and unlinks an administrator made by hand between two records or
-- entities: applied at every correlation, before any key.
CREATE TABLE manual_links (
    a          TEXT NOT NULL,
    b          TEXT NOT NULL,
    linked     INTEGER NOT NULL, -- 1: the same thing; 0: never the same
    actor      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (a, b)
);

-- +goose Down
DROP TABLE manual_links;
ALTER TABLE findings DROP COLUMN subject;
