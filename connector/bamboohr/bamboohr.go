// Package bamboohr reads BambooHR, the HR system of record: the employee
// directory, or a custom report of the fields a source needs (work e-mail,
// supervisor, status, hire and termination dates), with an API key.
package bamboohr

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/onus-sec/onus/connector"
)

// DefaultFields are read by the report resource unless options.fields says
// otherwise.
const DefaultFields = "id,employeeNumber,firstName,lastName,workEmail,department,jobTitle,supervisorEmail,status,hireDate,terminationDate,location"

func init() {
	connector.Register(&connector.Spec{
		Name:      "bamboohr",
		Title:     "BambooHR",
		Doc:       "docs/connectors/bamboohr.md",
		Resources: []string{"report", "directory"},
		Options: []connector.Option{
			{Name: "company", Help: "your BambooHR subdomain (acme for acme.bamboohr.com)", Required: true},
			{Name: "fields", Help: "comma-separated fields of the custom report (report)", Default: DefaultFields},
			{Name: "only_current", Help: "leave out former employees (report); false keeps leavers, whose findings must move", Default: "false"},
			{Name: "api_url", Help: "the API", Default: "https://api.bamboohr.com"},
		},
		Credentials: []connector.Option{
			{Name: "api_key", Help: "an API key of a user who may see the fields read", Required: true},
		},
		Open: open,
	})
}

type conn struct {
	c        *connector.Client
	base     string
	resource string
	fields   []string
	current  string
}

func open(s *connector.Settings) (connector.Connector, error) {
	api, err := s.URL("api_url")
	if err != nil {
		return nil, err
	}
	k := &conn{c: s.Client, base: api + "/api/gateway.php/" + url.PathEscape(s.Option("company")) + "/v1",
		resource: s.Option("resource"), fields: s.List("fields"), current: s.Option("only_current")}
	key, err := s.Secret("api_key")
	if err != nil {
		return nil, err
	}
	k.c.Auth = &connector.BasicAuth{User: key, Password: "x"}
	return k, nil
}

// Check runs the pull: BambooHR answers in one response either way.
func (k *conn) Check(ctx context.Context) (connector.Page, error) {
	var first connector.Page
	err := k.Pull(ctx, func(pg connector.Page) error {
		first = pg
		first.Objects = pg.Objects[:min(1, len(pg.Objects))]
		return nil
	})
	return first, err
}

func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	method, u := http.MethodGet, k.base+"/employees/directory"
	var body []byte
	if k.resource == "report" {
		method = http.MethodPost
		u = k.base + "/reports/custom?" + url.Values{"format": {"JSON"}, "onlyCurrent": {k.current}}.Encode()
		body, _ = json.Marshal(map[string]any{"title": "onus", "fields": k.fields})
	}
	res, err := k.c.Do(ctx, method, u, body, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	pg, err := k.c.Records(res, method, "employees")
	if err != nil {
		return err
	}
	return emit(pg)
}
