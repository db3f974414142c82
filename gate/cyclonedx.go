package gate

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The parts of a CycloneDX JSON BOM the gate reads.
type cdxBOM struct {
	BOMFormat   string `json:"bomFormat"`
	SpecVersion string `json:"specVersion"`
	Components  []cdxComponent
	Vulns       []cdxVuln `json:"vulnerabilities"`
}

type cdxComponent struct {
	Ref        string         `json:"bom-ref"`
	Type       string         `json:"type"`
	Name       string         `json:"name"`
	Group      string         `json:"group"`
	Version    string         `json:"version"`
	PURL       string         `json:"purl"`
	Components []cdxComponent `json:"components"`
	Licenses   []struct {
		License struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"license"`
		Expression string `json:"expression"`
	} `json:"licenses"`
}

type cdxVuln struct {
	ID      string `json:"id"`
	Ratings []struct {
		Severity string   `json:"severity"`
		Score    *float64 `json:"score"`
	} `json:"ratings"`
	References []struct {
		ID string `json:"id"`
	} `json:"references"`
	Affects []struct {
		Ref string `json:"ref"`
	} `json:"affects"`
	Analysis struct {
		State string `json:"state"`
	} `json:"analysis"`
}

// parseCycloneDX reads a CycloneDX JSON SBOM: one subject per component
// (`resource.kind == "component"`: name, version, purl, type, licenses) and
// per vulnerability (`resource.kind == "vulnerability"`: id, severity,
// cves, components, state).
func parseCycloneDX(file string, data []byte, o ParseOptions) ([]*Subject, error) {
	var bom cdxBOM
	if err := json.Unmarshal(data, &bom); err != nil {
		return nil, &InputError{File: file, Message: "not a CycloneDX JSON SBOM: " + jsonErr(err)}
	}
	if bom.SpecVersion == "" {
		return nil, &InputError{File: file, Message: "a CycloneDX SBOM needs specVersion"}
	}
	p := repoPath(o.Root, file)
	byRef := map[string]*cdxComponent{}
	var out []*Subject
	var walk func(cs []cdxComponent)
	walk = func(cs []cdxComponent) {
		for i := range cs {
			c := &cs[i]
			if c.Ref != "" {
				byRef[c.Ref] = c
			}
			var lic []any
			for _, l := range c.Licenses {
				switch {
				case l.Expression != "":
					lic = append(lic, l.Expression)
				case l.License.ID != "":
					lic = append(lic, l.License.ID)
				case l.License.Name != "":
					lic = append(lic, l.License.Name)
				}
			}
			name := c.Name
			if c.Group != "" {
				name = c.Group + "/" + c.Name
			}
			v := map[string]any{"kind": "component", "name": name, "version": c.Version, "purl": c.PURL, "type": c.Type,
				"licenses": append([]any{}, lic...)}
			addr := c.PURL
			if addr == "" {
				addr = name + "@" + c.Version
			}
			out = append(out, &Subject{Kind: CycloneDX, File: file, Path: p, Address: addr, Type: "component", Value: v})
			walk(c.Components)
		}
	}
	walk(bom.Components)
	for i, vu := range bom.Vulns {
		if vu.ID == "" {
			return nil, &InputError{File: file, Message: fmt.Sprintf("vulnerabilities[%d] has no id", i)}
		}
		sev := "none"
		best := 99
		for _, r := range vu.Ratings {
			s := strings.ToLower(r.Severity)
			if rank, ok := map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3}[s]; ok && rank < best {
				best, sev = rank, s
			}
		}
		cveList := []any{}
		for _, id := range append([]string{vu.ID}, refIDs(vu)...) {
			cveList = appendCVEs(cveList, id)
		}
		var comps []any
		addr := vu.ID
		for _, a := range vu.Affects {
			name := a.Ref
			if c := byRef[a.Ref]; c != nil && c.PURL != "" {
				name = c.PURL
			}
			comps = append(comps, name)
		}
		if len(comps) > 0 {
			addr += " in " + fmt.Sprint(comps[0])
		}
		v := map[string]any{"kind": "vulnerability", "id": vu.ID, "severity": sev, "cves": append([]any{}, cveList...),
			"components": append([]any{}, comps...), "state": vu.Analysis.State}
		out = append(out, &Subject{Kind: CycloneDX, File: file, Path: p, Address: addr, Type: "vulnerability", Value: v})
	}
	return out, nil
}

func refIDs(v cdxVuln) []string {
	out := make([]string, 0, len(v.References))
	for _, r := range v.References {
		out = append(out, r.ID)
	}
	return out
}
