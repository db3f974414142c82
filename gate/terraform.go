package gate

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// planEnvelope is the part of `terraform show -json` the gate reads, in
// terraform-json's own types. planned_values and prior_state repeat the
// resources; leaving them out halves the decoding of a large plan.
type planEnvelope struct {
	FormatVersion   string                   `json:"format_version"`
	ResourceChanges []*tfjson.ResourceChange `json:"resource_changes"`
	Configuration   *tfjson.Config           `json:"configuration"`
	Errored         bool                     `json:"errored"`
}

// parseTerraform reads a plan: one subject per managed resource that the
// plan creates or updates (a replacement included). Deletions, reads and
// no-ops are not the change's doing and are not judged.
//
// Values known only after apply are listed in Subject.Unknown; sensitive
// values are read like others, and never printed.
func parseTerraform(file string, data []byte, o ParseOptions) ([]*Subject, error) {
	var env planEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		msg := jsonErr(err)
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return nil, &InputError{File: file, Line: lineAt(data, te.Offset), Message: fmt.Sprintf("not a Terraform plan: field %s: %v", te.Field, msg)}
		}
		return nil, &InputError{File: file, Message: "not a Terraform plan: " + msg}
	}
	if err := (&tfjson.Plan{FormatVersion: env.FormatVersion}).Validate(); err != nil {
		return nil, &InputError{File: file, Message: err.Error()}
	}
	if env.Errored {
		return nil, &InputError{File: file, Message: "the plan errored: terraform could not finish planning, so it cannot be judged"}
	}
	dir := o.TerraformDir
	if dir == "" {
		dir = path.Dir(repoPath(o.Root, file))
	}
	modDirs := map[string]string{"": dir}
	if env.Configuration != nil && env.Configuration.RootModule != nil {
		walkModules(env.Configuration.RootModule, "", dir, modDirs)
	}
	types := map[string]any{}
	for _, rc := range env.ResourceChanges {
		types[rc.Type] = true
	}
	plan := map[string]any{"types": types}
	var out []*Subject
	for i, rc := range env.ResourceChanges {
		if rc == nil || rc.Change == nil {
			return nil, &InputError{File: file, Message: fmt.Sprintf("resource_changes[%d] has no change", i)}
		}
		if rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		a := rc.Change.Actions
		if !(a.Create() || a.Update() || a.Replace()) {
			continue
		}
		after, _ := rc.Change.After.(map[string]any)
		if after == nil {
			after = map[string]any{}
		}
		before, _ := rc.Change.Before.(map[string]any)
		actions := make([]any, len(a))
		for j, x := range a {
			actions[j] = string(x)
		}
		v := map[string]any{
			"address":  rc.Address,
			"type":     rc.Type,
			"name":     rc.Name,
			"module":   rc.ModuleAddress,
			"provider": rc.ProviderName,
			"actions":  actions,
			"after":    after,
			"plan":     plan,
		}
		if before != nil {
			v["before"] = before
		}
		s := &Subject{Kind: Terraform, File: file, Address: rc.Address, Type: rc.Type, Value: v,
			Path: modDirs[moduleKey(rc.ModuleAddress)]}
		if s.Path == "" {
			s.Path = dir
		}
		unknownPaths(rc.Change.AfterUnknown, []any{"after"}, &s.Unknown)
		for _, k := range []string{"tags", "labels"} {
			if m, ok := after[k].(map[string]any); ok {
				if skip, ok := m["onus-skip"].(string); ok {
					s.Skips = append(s.Skips, parseSkips(skip, k+"[onus-skip]")...)
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// walkModules maps module addresses (without instance keys) to the
// directories of their sources, for local sources.
func walkModules(m *tfjson.ConfigModule, prefix, dir string, out map[string]string) {
	for name, call := range m.ModuleCalls {
		addr := strings.TrimPrefix(prefix+".module."+name, ".")
		d := dir
		if strings.HasPrefix(call.Source, "./") || strings.HasPrefix(call.Source, "../") {
			d = path.Clean(path.Join(dir, call.Source))
		}
		out[addr] = d
		if call.Module != nil {
			walkModules(call.Module, addr, d, out)
		}
	}
}

// moduleKey drops instance keys: module.a["x"].module.b[0] → module.a.module.b.
func moduleKey(addr string) string {
	var b strings.Builder
	depth := 0
	for _, r := range addr {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unknownPaths lists the paths that after_unknown marks true.
func unknownPaths(u any, at []any, out *[][]any) {
	switch u := u.(type) {
	case bool:
		if u {
			*out = append(*out, slices.Clone(at))
		}
	case map[string]any:
		for k, v := range u {
			unknownPaths(v, append(at, k), out)
		}
	case []any:
		for i, v := range u {
			unknownPaths(v, append(at, i), out)
		}
	}
}
