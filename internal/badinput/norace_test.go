//go:build !race

package badinput_test

const raceBuild = false
