package gate

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"

	"github.com/onus-sec/onus"
)

// ExportVersion is the version of the exceptions export format.
const ExportVersion = 1

// Export is the file `onus exceptions export` writes: the ledger's
// exceptions, for a gate that runs offline.
type Export struct {
	Version    int               `json:"version"`
	ExportedAt time.Time         `json:"exported_at"`
	Exceptions []*onus.Exception `json:"exceptions"`
}

// Exceptions are the exceptions a gate honours. An exception for a
// guardrail has the guardrail's id as its control and, as its scope, a CEL
// filter over `repository`, `path`, `address`, `type`, `env` and
// `guardrail`, such as
//
//	env == "development" && address.startsWith("aws_s3_bucket.assets")
type Exceptions struct {
	byID   map[int64]*onus.Exception
	scoped []scopedException
}

type scopedException struct {
	x   *onus.Exception
	prg cel.Program
}

// ParseExceptions reads an export (or a JSON list of exceptions, as
// `onus exceptions -o json` prints). Scopes of exceptions for guardrails in
// the pack are compiled; a scope that does not compile is an error naming
// the exception.
func ParseExceptions(name string, r io.Reader, pack *Pack) (*Exceptions, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, &InputError{File: name, Message: err.Error()}
	}
	var list []*onus.Exception
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		err = json.Unmarshal(t, &list)
	} else {
		var ex Export
		err = json.Unmarshal(t, &ex)
		if err == nil && ex.Version > ExportVersion {
			return nil, &InputError{File: name, Message: fmt.Sprintf("export version %d is newer than this onus understands (%d)", ex.Version, ExportVersion)}
		}
		list = ex.Exceptions
	}
	if err != nil {
		return nil, &InputError{File: name, Message: "not an exceptions export: " + jsonErr(err)}
	}
	return NewExceptions(name, list, pack)
}

// NewExceptions prepares exceptions read from the store or a file (name,
// for errors).
func NewExceptions(name string, list []*onus.Exception, pack *Pack) (*Exceptions, error) {
	env, err := exceptionEnv()
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	xs := &Exceptions{byID: map[int64]*onus.Exception{}}
	for i, x := range list {
		if x == nil || x.ID == 0 {
			return nil, &InputError{File: name, Message: fmt.Sprintf("exception %d in the list has no id", i+1)}
		}
		xs.byID[x.ID] = x
		if x.Finding != 0 || pack.Guardrail(x.Control) == nil {
			continue // an exception for a monitoring finding or another control
		}
		src := strings.TrimSpace(x.Scope)
		if src == "" {
			src = "true"
		}
		ast, iss := env.Compile(src)
		if iss != nil && iss.Err() != nil {
			return nil, &InputError{File: name, Message: fmt.Sprintf("exception %d (%s): the scope does not compile: %v", x.ID, x.Control, iss.Err())}
		}
		if !ast.OutputType().IsExactType(cel.BoolType) {
			return nil, &InputError{File: name, Message: fmt.Sprintf("exception %d (%s): the scope must be true or false", x.ID, x.Control)}
		}
		prg, err := env.Program(ast, cel.CostLimit(costLimit))
		if err != nil {
			return nil, &InputError{File: name, Message: fmt.Sprintf("exception %d: %v", x.ID, err)}
		}
		xs.scoped = append(xs.scoped, scopedException{x: x, prg: prg})
	}
	return xs, nil
}

func exceptionEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("repository", cel.StringType), cel.Variable("path", cel.StringType),
		cel.Variable("address", cel.StringType), cel.Variable("type", cel.StringType),
		cel.Variable("env", cel.StringType), cel.Variable("guardrail", cel.StringType),
		ext.Strings(),
	)
}

// CheckExceptionScope reports whether a scope for a guardrail's exception
// compiles to true or false.
func CheckExceptionScope(scope string) error {
	env, err := exceptionEnv()
	if err != nil {
		return err
	}
	ast, iss := env.Compile(scope)
	if iss != nil && iss.Err() != nil {
		return iss.Err()
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return fmt.Errorf("the scope must be true or false")
	}
	return nil
}

// refusal says why an exception does not exempt a violation at now, or "".
func refusal(x *onus.Exception, guardrail string, now time.Time) string {
	switch {
	case x.Control != guardrail:
		return fmt.Sprintf("exception %d is for %s, not %s", x.ID, x.Control, guardrail)
	case x.Approver != "" && strings.EqualFold(x.Approver, x.Requester):
		return fmt.Sprintf("exception %d was approved by its own requester (%s): refused", x.ID, x.Requester)
	case x.State == onus.ExceptionExpired || (x.State == onus.ExceptionApproved && !now.Before(x.Expires)):
		return fmt.Sprintf("exception %d expired on %s", x.ID, x.Expires.UTC().Format("2006-01-02"))
	case x.State != onus.ExceptionApproved:
		return fmt.Sprintf("exception %d is %s, not approved", x.ID, x.State)
	}
	return ""
}

// apply marks a failing result excepted when an approved, unexpired
// exception covers it, and notes every exception or skip that was seen and
// does not count.
func (xs *Exceptions) apply(r *Result, o Options) {
	s := r.Subject
	for _, sk := range s.Skips {
		if sk.Guardrail != r.Guardrail {
			continue
		}
		if sk.Exception == 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("skip annotation (%s) cites no exception id: it does not count; ask for an exception and cite its id", sk.Where))
			continue
		}
		var x *onus.Exception
		if xs != nil {
			x = xs.byID[sk.Exception]
		}
		if x == nil {
			r.Notes = append(r.Notes, fmt.Sprintf("skip annotation (%s) cites exception %d, which is not in the exceptions on record: it does not count", sk.Where, sk.Exception))
			continue
		}
		if why := refusal(x, r.Guardrail, o.Now); why != "" {
			r.Notes = append(r.Notes, fmt.Sprintf("skip annotation (%s): %s", sk.Where, why))
			continue
		}
		r.Status, r.Exception = Excepted, x
		return
	}
	if xs == nil {
		return
	}
	vars := map[string]any{"repository": o.Repository, "path": s.Path, "address": s.Address, "type": s.Type, "env": o.Env, "guardrail": r.Guardrail}
	for _, se := range xs.scoped {
		if se.x.Control != r.Guardrail {
			continue
		}
		v, _, err := se.prg.Eval(vars)
		if err != nil || v != types.True {
			continue
		}
		if why := refusal(se.x, r.Guardrail, o.Now); why != "" {
			if se.x.State == onus.ExceptionApproved || se.x.State == onus.ExceptionExpired {
				r.Notes = append(r.Notes, why)
			}
			continue
		}
		r.Status, r.Exception = Excepted, se.x
		return
	}
}

// KEV is the set of CVE ids in CISA's Known Exploited Vulnerabilities
// catalog.
type KEV map[string]bool

// lookup returns the catalog as a CEL map, built once per worker.
func (k KEV) lookup() ref.Val {
	m := map[string]bool(k)
	if m == nil {
		m = map[string]bool{}
	}
	return types.DefaultTypeAdapter.NativeToValue(m)
}

// ParseKEV reads the catalog as CISA publishes it: JSON
// (known_exploited_vulnerabilities.json) or CSV.
func ParseKEV(name string, r io.Reader) (KEV, error) {
	b, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, &InputError{File: name, Message: err.Error()}
	}
	k := KEV{}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var cat struct {
			Vulnerabilities []struct {
				CVE string `json:"cveID"`
			} `json:"vulnerabilities"`
		}
		if err := json.Unmarshal(t, &cat); err != nil {
			return nil, &InputError{File: name, Message: "not the CISA KEV catalog: " + jsonErr(err)}
		}
		for _, v := range cat.Vulnerabilities {
			k[v.CVE] = true
		}
	} else {
		cr := csv.NewReader(bytes.NewReader(b))
		cr.FieldsPerRecord = -1
		head, err := cr.Read()
		if err != nil {
			return nil, &InputError{File: name, Line: 1, Message: "not the CISA KEV catalog: " + err.Error()}
		}
		col := -1
		for i, h := range head {
			if strings.TrimPrefix(h, "\ufeff") == "cveID" {
				col = i
			}
		}
		if col < 0 {
			return nil, &InputError{File: name, Line: 1, Message: "not the CISA KEV catalog: no cveID column"}
		}
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				line, _ := cr.FieldPos(0)
				return nil, &InputError{File: name, Line: line, Message: err.Error()}
			}
			if col < len(rec) {
				k[rec[col]] = true
			}
		}
	}
	if len(k) == 0 {
		return nil, &InputError{File: name, Message: "the KEV catalog lists no vulnerabilities"}
	}
	return k, nil
}
