package gate

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

// Rungs say, for one environment, from which severity up a violation
// blocks, warns or informs. A severity below every rung is off.
type Rungs struct {
	Block  onus.Severity `yaml:"block" json:"block,omitempty"`
	Warn   onus.Severity `yaml:"warn" json:"warn,omitempty"`
	Inform onus.Severity `yaml:"inform" json:"inform,omitempty"`
}

// Action returns what a violation of the severity does.
func (r Rungs) Action(sev onus.Severity) Action {
	at := func(min onus.Severity) bool { return min != "" && sev.Rank() <= min.Rank() }
	switch {
	case at(r.Block):
		return Block
	case at(r.Warn):
		return Warn
	case at(r.Inform):
		return Inform
	}
	return Off
}

// Ladder is the enforcement per environment, declared once.
type Ladder struct {
	Envs map[string]Rungs
}

// Names returns the environments, sorted.
func (l *Ladder) Names() []string {
	var out []string
	for n := range l.Envs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// DefaultLadder applies when no configuration declares one: production
// blocks from medium up, staging blocks high and critical and warns below,
// development warns from high up and informs below.
func DefaultLadder() *Ladder {
	return &Ladder{Envs: map[string]Rungs{
		"production":  {Block: onus.Medium, Warn: onus.Low},
		"staging":     {Block: onus.High, Warn: onus.Low},
		"development": {Warn: onus.High, Inform: onus.Low},
	}}
}

// Detect says which environment a change is for when --env is not given:
// the first rule whose path pattern matches an input file, or whose
// workspace pattern matches the Terraform workspace.
type Detect struct {
	Env       string   `yaml:"env" json:"env"`
	Paths     []string `yaml:"paths" json:"paths,omitempty"`
	Workspace []string `yaml:"workspaces" json:"workspaces,omitempty"`
	Line      int      `yaml:"-" json:"-"`
}

// Config is gate.yaml in a configuration directory.
type Config struct {
	File    string `yaml:"-"`
	Version int    `yaml:"version"`
	// Bundled selects the bundled guardrails: "all" (the default), "none",
	// or a list of ids.
	Bundled any `yaml:"bundled"`
	// Disable turns off guardrails by id, bundled or not.
	Disable []string         `yaml:"disable"`
	Ladder  map[string]Rungs `yaml:"ladder"`
	Detect  []Detect         `yaml:"detect"`
	// KEV, CODEOWNERS and Exceptions are files, relative to the directory.
	KEV        string `yaml:"kev"`
	CodeOwners string `yaml:"codeowners"`
	Exceptions string `yaml:"exceptions"`
}

// ConfigFile is the name of the gate's configuration file.
const ConfigFile = "gate.yaml"

// GuardrailsDir is where a configuration keeps its own guardrails.
const GuardrailsDir = "guardrails"

// ParseConfig reads gate.yaml, rejecting unknown keys.
func ParseConfig(name string, r io.Reader) (*Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, &config.Problem{File: name, Message: err.Error()}
	}
	c := &Config{File: name}
	if len(bytes.TrimSpace(b)) == 0 {
		return c, nil
	}
	if err := yaml.NewDecoder(bytes.NewReader(b), yaml.DisallowUnknownField()).Decode(c); err != nil {
		return nil, yamlProblem(name, err)
	}
	line := func(p string) int {
		yp, err := yaml.PathString(p)
		if err != nil {
			return 0
		}
		n, err := yp.ReadNode(bytes.NewReader(b))
		if err != nil || n == nil || n.GetToken() == nil {
			return 0
		}
		return n.GetToken().Position.Line
	}
	if c.Version > 1 {
		return nil, &config.Problem{File: name, Line: line("$.version"), Message: fmt.Sprintf("version %d is newer than this onus understands (1); upgrade onus", c.Version)}
	}
	var probs config.Problems
	for env, r := range c.Ladder {
		for _, s := range []onus.Severity{r.Block, r.Warn, r.Inform} {
			if s == "" {
				continue
			}
			if _, err := onus.ParseSeverity(string(s)); err != nil {
				probs = append(probs, &config.Problem{File: name, Line: line("$.ladder." + env), Message: fmt.Sprintf("ladder %s: %q is not a severity (critical, high, medium, low)", env, s)})
			}
		}
		if r.Block == "" && r.Warn == "" && r.Inform == "" {
			probs = append(probs, &config.Problem{File: name, Line: line("$.ladder." + env), Message: fmt.Sprintf("ladder %s: say from which severity it blocks, warns or informs", env)})
		}
	}
	for i := range c.Detect {
		d := &c.Detect[i]
		d.Line = line(fmt.Sprintf("$.detect[%d]", i))
		if _, ok := c.Ladder[d.Env]; !ok && len(c.Ladder) > 0 {
			probs = append(probs, &config.Problem{File: name, Line: d.Line, Message: fmt.Sprintf("detect: environment %q is not in the ladder", d.Env)})
		} else if _, ok := DefaultLadder().Envs[d.Env]; !ok && len(c.Ladder) == 0 {
			probs = append(probs, &config.Problem{File: name, Line: d.Line, Message: fmt.Sprintf("detect: environment %q is not in the default ladder (production, staging, development)", d.Env)})
		}
		for _, p := range append(slices.Clone(d.Paths), d.Workspace...) {
			if _, err := path.Match(p, ""); err != nil {
				probs = append(probs, &config.Problem{File: name, Line: d.Line, Message: fmt.Sprintf("detect: bad pattern %q", p)})
			}
		}
	}
	switch v := c.Bundled.(type) {
	case nil, string:
		if s, _ := v.(string); s != "" && s != "all" && s != "none" {
			probs = append(probs, &config.Problem{File: name, Line: line("$.bundled"), Message: `bundled: want "all", "none" or a list of guardrail ids`})
		}
	case []any:
	default:
		probs = append(probs, &config.Problem{File: name, Line: line("$.bundled"), Message: `bundled: want "all", "none" or a list of guardrail ids`})
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return c, nil
}

// LadderOf returns the configured ladder, or the default one.
func (c *Config) LadderOf() *Ladder {
	if c == nil || len(c.Ladder) == 0 {
		return DefaultLadder()
	}
	return &Ladder{Envs: c.Ladder}
}

// Select keeps the bundled guardrails the configuration enables.
func (c *Config) Select(bundled []*Guardrail) []*Guardrail {
	if c == nil {
		return bundled
	}
	var out []*Guardrail
	switch v := c.Bundled.(type) {
	case string:
		if v == "none" {
			return nil
		}
		out = bundled
	case []any:
		for _, g := range bundled {
			for _, id := range v {
				if fmt.Sprint(id) == g.ID {
					out = append(out, g)
				}
			}
		}
	default:
		out = bundled
	}
	return out
}

// Disabled reports whether the configuration turns a guardrail off.
func (c *Config) Disabled(id string) bool {
	return c != nil && slices.Contains(c.Disable, id)
}

// DetectEnv returns the environment of the first detect rule that matches
// a file or the workspace, or "".
func (c *Config) DetectEnv(files []string, workspace string) string {
	if c == nil {
		return ""
	}
	for _, d := range c.Detect {
		for _, p := range d.Workspace {
			if ok, _ := path.Match(p, workspace); ok && workspace != "" {
				return d.Env
			}
		}
		for _, p := range d.Paths {
			for _, f := range files {
				if matchPath(p, f) {
					return d.Env
				}
			}
		}
	}
	return ""
}

// matchPath matches a slash path against a pattern where "**" spans
// directories and a pattern ending in "/" matches everything under it.
func matchPath(pattern, name string) bool {
	name = strings.TrimPrefix(path.Clean("/"+strings.ReplaceAll(name, "\\", "/")), "/")
	pattern = strings.TrimPrefix(pattern, "/")
	if strings.HasSuffix(pattern, "/") {
		pattern += "**"
	}
	return globMatch(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func globMatch(pat, parts []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(parts); i++ {
				if globMatch(pat[1:], parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], parts[0]); !ok {
			return false
		}
		pat, parts = pat[1:], parts[1:]
	}
	return len(parts) == 0
}
