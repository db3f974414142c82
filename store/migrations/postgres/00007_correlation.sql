-- +goose Up
-- PostgreSQL: the same schema as ../00007_correlation.sql, in PostgreSQL's types (see
-- README.md here).
-- The subject of a finding: the person and the device it is about, beside
-- its entity ({"person": {"id", "name"}, "device": {"id", "name"}}).
ALTER TABLE findings ADD COLUMN subject TEXT COLLATE "C" NOT NULL DEFAULT '{}';

-- Links and unlinks an administrator made by hand between two records or
-- entities: applied at every correlation, before any key.
CREATE TABLE manual_links (
    a          TEXT COLLATE "C" NOT NULL,
    b          TEXT COLLATE "C" NOT NULL,
    linked     BIGINT NOT NULL, -- 1: the same thing; 0: never the same
    actor      TEXT COLLATE "C" NOT NULL,
    reason     TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (a, b)
);

-- +goose Down
DROP TABLE manual_links;
ALTER TABLE findings DROP COLUMN subject;
