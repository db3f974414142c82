package connector

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/onus-sec/onus"
)

// ReadSecret reads a credential given as env:NAME or file:PATH; a relative
// PATH is relative to dir, the configuration directory. Surrounding white
// space is dropped. Errors name the reference, never the value.
func ReadSecret(ref, dir string) (string, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v, ok := os.LookupEnv(name)
		if !ok || strings.TrimSpace(v) == "" {
			return "", onus.Errorf(onus.EINVALID, "the environment variable %s is not set", name)
		}
		return strings.TrimSpace(v), nil
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", onus.Errorf(onus.EINVALID, "cannot read the secret file %s", path)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", onus.Errorf(onus.EINVALID, "the secret file %s is empty", path)
		}
		return v, nil
	}
	return "", onus.Errorf(onus.EINVALID, "a credential must be env:NAME or file:PATH")
}
