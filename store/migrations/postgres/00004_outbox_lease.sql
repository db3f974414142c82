-- +goose Up
-- PostgreSQL: the same schema as ../00004_outbox_lease.sql, in PostgreSQL's types (see
-- README.md here).
-- Who holds a claimed or sending message ("host:pid:run"), beside
-- lease_until: a run renews its lease while it sends, a run that finds a
-- lease held by a process of its own host that no longer exists takes the
-- message over at once, and `onus outbox` shows both.
ALTER TABLE outbox ADD COLUMN lease_holder TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN lease_holder;
