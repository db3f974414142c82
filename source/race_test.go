//go:build race

package source

// raceDetector says the tests run under -race, about ten times slower:
// the single-goroutine differential tests then check fewer generated
// documents, and scripts/test runs them in full without it.
const raceDetector = true
