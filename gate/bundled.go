package gate

import (
	"embed"
	"io/fs"
)

//go:embed pack/*.yaml
var packFS embed.FS

// Bundled returns the guardrails shipped in the binary.
func Bundled() ([]*Guardrail, error) {
	sub, err := fs.Sub(packFS, "pack")
	if err != nil {
		return nil, err
	}
	gs, err := LoadGuardrails(sub, ".")
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		g.File = "bundled:" + g.File
	}
	return gs, nil
}
