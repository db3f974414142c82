-- +goose Up
-- A file source whose files have the same content as when its snapshot in
-- force was read is not read again (monitor/unchanged.go). The snapshot
-- in force keeps the fingerprint of what it was read from: the hash of the
-- source's configuration and each file's path, size, modification time
-- and SHA-256 (JSON). A sync that found the files unchanged points at the
-- same snapshot and says so.
ALTER TABLE source_state ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
ALTER TABLE syncs ADD COLUMN unchanged INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE syncs DROP COLUMN unchanged;
ALTER TABLE source_state DROP COLUMN fingerprint;
