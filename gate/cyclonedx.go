package gate

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
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
	Licenses   []cdxLicense   `json:"licenses"`
}

type cdxLicense struct {
	License    cdxLicenseID `json:"license"`
	Expression string       `json:"expression"`
}

type cdxLicenseID struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type cdxRating struct {
	Severity string   `json:"severity"`
	Score    *float64 `json:"score"`
}

// cdxRef is a reference (id) or an affected component (ref).
type cdxRef struct {
	ID  string `json:"id"`
	Ref string `json:"ref"`
}

type cdxVuln struct {
	ID         string      `json:"id"`
	Ratings    []cdxRating `json:"ratings"`
	References []cdxRef    `json:"references"`
	Affects    []cdxRef    `json:"affects"`
	Analysis   struct {
		State string `json:"state"`
	} `json:"analysis"`
}

// parseCycloneDX reads a CycloneDX JSON SBOM: one subject per component
// (`resource.kind == "component"`: name, version, purl, type, licenses) and
// per vulnerability (`resource.kind == "vulnerability"`: id, severity,
// cves, components, state).
func parseCycloneDX(file string, data []byte, o ParseOptions) ([]*Subject, error) {
	var bom cdxBOM
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '<' {
		if err := decodeCycloneDXXML(t, &bom); err != nil {
			return nil, &InputError{File: file, Message: "not a CycloneDX XML SBOM: " + err.Error()}
		}
	} else if err := json.Unmarshal(data, &bom); err != nil {
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

// The XML form of the same parts (CycloneDX 1.2 to 1.6 share them).
type cdxXMLBOM struct {
	XMLName     xml.Name          `xml:"bom"`
	Version     string            `xml:"version,attr"`
	Components  []cdxXMLComponent `xml:"components>component"`
	Vulns       []cdxXMLVuln      `xml:"vulnerabilities>vulnerability"`
	SpecVersion string            `xml:"-"`
}

type cdxXMLComponent struct {
	Ref        string            `xml:"bom-ref,attr"`
	Type       string            `xml:"type,attr"`
	Name       string            `xml:"name"`
	Group      string            `xml:"group"`
	Version    string            `xml:"version"`
	PURL       string            `xml:"purl"`
	LicenseIDs []string          `xml:"licenses>license>id"`
	LicNames   []string          `xml:"licenses>license>name"`
	Exprs      []string          `xml:"licenses>expression"`
	Components []cdxXMLComponent `xml:"components>component"`
}

type cdxXMLVuln struct {
	ID         string   `xml:"id"`
	Severities []string `xml:"ratings>rating>severity"`
	References []string `xml:"references>reference>id"`
	Affects    []string `xml:"affects>target>ref"`
	State      string   `xml:"analysis>state"`
}

// decodeCycloneDXXML reads an XML BOM into the JSON form's types.
func decodeCycloneDXXML(data []byte, bom *cdxBOM) error {
	var x cdxXMLBOM
	if err := xml.Unmarshal(data, &x); err != nil {
		return err
	}
	if x.XMLName.Space == "" || !strings.HasPrefix(x.XMLName.Space, "http://cyclonedx.org/schema/bom/") {
		return fmt.Errorf("the root element is not a CycloneDX bom (namespace %q)", x.XMLName.Space)
	}
	bom.BOMFormat = "CycloneDX"
	bom.SpecVersion = strings.TrimPrefix(x.XMLName.Space, "http://cyclonedx.org/schema/bom/")
	var conv func([]cdxXMLComponent) []cdxComponent
	conv = func(cs []cdxXMLComponent) []cdxComponent {
		out := make([]cdxComponent, len(cs))
		for i, c := range cs {
			out[i] = cdxComponent{Ref: c.Ref, Type: c.Type, Name: c.Name, Group: c.Group, Version: c.Version, PURL: c.PURL, Components: conv(c.Components)}
			for _, id := range c.LicenseIDs {
				out[i].Licenses = append(out[i].Licenses, cdxLicense{License: cdxLicenseID{ID: id}})
			}
			for _, n := range c.LicNames {
				out[i].Licenses = append(out[i].Licenses, cdxLicense{License: cdxLicenseID{Name: n}})
			}
			for _, e := range c.Exprs {
				out[i].Licenses = append(out[i].Licenses, cdxLicense{Expression: e})
			}
		}
		return out
	}
	bom.Components = conv(x.Components)
	for _, v := range x.Vulns {
		cv := cdxVuln{ID: v.ID}
		for _, s := range v.Severities {
			cv.Ratings = append(cv.Ratings, cdxRating{Severity: s})
		}
		for _, r := range v.References {
			cv.References = append(cv.References, cdxRef{ID: r})
		}
		for _, a := range v.Affects {
			cv.Affects = append(cv.Affects, cdxRef{Ref: a})
		}
		cv.Analysis.State = v.State
		bom.Vulns = append(bom.Vulns, cv)
	}
	return nil
}
