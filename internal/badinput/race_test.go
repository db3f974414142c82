//go:build race

package badinput_test

// Under the race detector every variant is still synced and checked, but
// only those whose source stays healthy (accepted or skipping one record)
// are evaluated again: a failed or held source leaves its last good
// snapshot in force, which the monitor's own tests cover, and evaluation
// is most of the catalogue's time.
const raceBuild = true
