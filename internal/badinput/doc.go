// Package badinput holds the catalogue of bad input: one-defect variants
// of the example organisation's exports (examples/acme/exports), each with
// the outcome onus must reach and the place its message must name. The
// catalogue is a test (catalogue_test.go) run by go test and so by
// scripts/test:
//
//	go test ./internal/badinput -run TestCatalogue -v
//
// The outcomes are:
//
//   - accept: the variant is the same data written differently (a byte
//     order mark, CRLF line ends, spaces around values, a declared
//     encoding); the sync is clean and nothing changes.
//   - skip: one record is damaged (a value of the wrong type, damaged
//     text, an empty id); that record is skipped with a message naming
//     file:line and the field, and the results that depend on it are
//     unknown for its entity.
//   - fail: the file as a whole cannot be trusted (a JSON document broken
//     anywhere, a vendor's error body, an unterminated CSV quote, another
//     encoding); the source fails with a message naming file:line and its
//     last good snapshot stays in force.
//   - shrunk: the file is well formed but holds far fewer records than the
//     last good sync; it is held as suspicious.
//
// Whatever the outcome, bad data never opens, resolves or removes a
// finding by itself: every variant is evaluated and the ledger must not
// change.
package badinput
