-- +goose Up
-- The digest of the people directory and assets the latest evaluation
-- wrote (ReplaceDirectory). An evaluation whose directory has the same
-- digest reads this row and writes nothing: at 100,000 people, reading
-- and comparing 230,000 rows was a second of each re-run. One row.
CREATE TABLE directory_digest (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    digest TEXT NOT NULL
);

-- +goose Down
DROP TABLE directory_digest;
