package source

// SetFastPaths turns the readers' fast paths on or off, for the
// differential tests, and returns the previous setting.
func SetFastPaths(on bool) bool {
	prev := fastPaths
	fastPaths = on
	return prev
}
