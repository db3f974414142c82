package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
)

// ParseOptions tell the parsers how to name what they read.
type ParseOptions struct {
	// Root is the repository root, as a slash path relative to the working
	// directory or absolute; subject paths are made relative to it.
	Root string
	// TerraformDir is the directory, relative to Root, of the Terraform
	// configuration a plan was made from; it defaults to the plan's own
	// directory.
	TerraformDir string
}

// InputError is a file that cannot be read as any input kind, or that is
// malformed. A gate never passes on one.
type InputError struct {
	File    string
	Line    int
	Message string
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Message)
}

// Unwrap makes an input error an application error with code EINVALID.
func (e *InputError) Unwrap() error { return &onus.Error{Code: onus.EINVALID, Message: e.Error()} }

// DetectKind says which input kind data holds, from its content.
func DetectKind(data []byte) (string, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return "", fmt.Errorf("the file is empty")
	}
	if t[0] == '{' {
		// Only a few top-level keys matter; jsonparser finds them without
		// decoding the rest. Validity is checked by the kind's parser.
		has := func(key string) bool {
			_, _, _, err := jsonparser.Get(t, key)
			return err == nil
		}
		get := func(key string) string {
			v, _, _, err := jsonparser.Get(t, key)
			if err != nil {
				return ""
			}
			return string(v)
		}
		switch {
		case has("format_version") && (has("resource_changes") || has("planned_values")):
			return Terraform, nil
		case has("runs") && (strings.Contains(get("$schema"), "sarif") || get("version") == "2.1.0"):
			return SARIF, nil
		case get("bomFormat") == "CycloneDX":
			return CycloneDX, nil
		case get("apiVersion") != "" && get("kind") != "":
			return Kubernetes, nil
		}
		if !json.Valid(t) {
			var v any
			return "", fmt.Errorf("not valid JSON: %v", jsonErr(json.Unmarshal(t, &v)))
		}
		if has("format_version") {
			return "", fmt.Errorf("a Terraform JSON document without resource_changes: pass a plan (terraform show -json PLANFILE), not a state")
		}
		return "", fmt.Errorf("JSON that is neither a Terraform plan, SARIF 2.1.0, a CycloneDX SBOM nor a Kubernetes object")
	}
	if t[0] == '<' {
		if bytes.Contains(t[:min(len(t), 4096)], []byte("http://cyclonedx.org/schema/bom/")) {
			return CycloneDX, nil
		}
		return "", fmt.Errorf("XML that is not a CycloneDX SBOM")
	}
	if kubernetesHead.Match(t) {
		return Kubernetes, nil
	}
	return "", fmt.Errorf("neither JSON (a Terraform plan, SARIF, CycloneDX) nor Kubernetes YAML (no apiVersion and kind)")
}

var kubernetesHead = regexp.MustCompile(`(?m)^apiVersion:\s*\S`)

// Parse reads one input file's content into subjects.
func Parse(file string, data []byte, o ParseOptions) (string, []*Subject, error) {
	kind, err := DetectKind(data)
	if err != nil {
		return "", nil, &InputError{File: file, Message: err.Error()}
	}
	var subs []*Subject
	switch kind {
	case Terraform:
		subs, err = parseTerraform(file, data, o)
	case Kubernetes:
		subs, err = parseKubernetes(file, data, o)
	case SARIF:
		subs, err = parseSARIF(file, data, o)
	case CycloneDX:
		subs, err = parseCycloneDX(file, data, o)
	}
	if err != nil {
		return kind, nil, err
	}
	return kind, subs, nil
}

// repoPath makes p a slash path relative to the repository root.
func repoPath(root, p string) string {
	p = strings.TrimPrefix(p, "file://")
	p = strings.ReplaceAll(p, "\\", "/")
	root = strings.ReplaceAll(root, "\\", "/")
	if root != "" && root != "." {
		r := path.Clean(root) + "/"
		if strings.HasPrefix(path.Clean(p), r) {
			p = strings.TrimPrefix(path.Clean(p), r)
		}
	}
	return strings.TrimPrefix(path.Clean(p), "./")
}

func jsonErr(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	return err.Error()
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// parseSkips reads skip annotations: "GUARDRAIL:ID" or "GUARDRAIL#ID",
// separated by commas or spaces; an id may be left out (and then the skip
// is reported, not honoured).
func parseSkips(s, where string) []Skip {
	var out []Skip
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		g, id, _ := strings.Cut(strings.ReplaceAll(f, "#", ":"), ":")
		if g == "" {
			continue
		}
		var n int64
		fmt.Sscan(strings.TrimPrefix(id, "#"), &n)
		out = append(out, Skip{Guardrail: g, Exception: n, Where: where})
	}
	return out
}

// skipComment finds "onus:skip …" in a line of source.
var skipComment = regexp.MustCompile(`onus:skip[ =]+([A-Za-z0-9_.\-]+(?:[:#]\d+)?(?:[ ,]+[A-Za-z0-9_.\-]+(?:[:#]\d+)?)*)`)
