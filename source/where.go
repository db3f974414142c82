package source

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/onus-sec/onus"
)

// compileWhere compiles a source's where: a CEL expression over `record`,
// a map of its mapped fields with id and name, that must be a bool.
func compileWhere(src string) (cel.Program, error) {
	env, err := cel.NewEnv(cel.Variable("record", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("gives %s, not a bool", ast.OutputType())
	}
	return env.Program(ast)
}

// filter keeps the records where is true of. A record it cannot be
// evaluated on (a field it reads is absent) is dropped, as is one it is
// false of; an expression that gives no bool is an error.
func (m *Mapping) filter(recs *onus.Records) (*onus.Records, error) {
	keep := make([]bool, recs.Len())
	for i := range recs.Len() {
		vars := make(map[string]any, len(m.fields)+2)
		for j, f := range m.fields {
			if v := recs.Attr(i, j); v != nil {
				vars[f.name] = v
			}
		}
		vars["id"], vars["name"] = recs.ID(i), recs.Name(i)
		v, _, err := m.where.Eval(map[string]any{"record": vars})
		if err != nil {
			continue
		}
		b, ok := v.(types.Bool)
		if !ok {
			return nil, fmt.Errorf("gives %s for record %s, not a bool", v.Type().TypeName(), recs.ID(i))
		}
		keep[i] = bool(b)
	}
	return recs.Filter(func(i int) bool { return keep[i] }), nil
}
