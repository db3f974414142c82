// Package examples embeds the bundled example organisations, so that
// `onus demo` works from the binary alone.
package examples

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed acme
var files embed.FS

// Acme returns the Acme example configuration directory.
func Acme() fs.FS {
	sub, err := fs.Sub(files, "acme")
	if err != nil {
		panic(err)
	}
	return sub
}

// CopyTo writes an example's files under dir.
func CopyTo(example fs.FS, dir string) error { return copyTo(example, dir, false) }

// CopyConfig writes an example's configuration under dir, without its
// exports: for running its controls on other data of the same shape.
func CopyConfig(example fs.FS, dir string) error { return copyTo(example, dir, true) }

func copyTo(example fs.FS, dir string, configOnly bool) error {
	return fs.WalkDir(example, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if configOnly && d.IsDir() && path == "exports" {
			return fs.SkipDir
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := fs.ReadFile(example, path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
