// Package fleet reads the hosts of a Fleet (fleetdm.com) server with their
// policies and installed software, as an API-only user.
package fleet

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus/connector"
)

func init() {
	connector.Register(&connector.Spec{
		Name:  "fleet",
		Title: "Fleet",
		Doc:   "docs/connectors/fleet.md",
		Options: []connector.Option{
			{Name: "url", Help: "your Fleet server (fleet.acme.com)", Required: true},
			{Name: "software", Help: "include each host's installed software (populate_software)", Default: "true"},
			{Name: "policies", Help: "include each host's policy results (populate_policies)", Default: "true"},
			{Name: "team_id", Help: "read only the hosts of this team"},
			{Name: "per_page", Help: "hosts per page", Default: "100"},
		},
		Credentials: []connector.Option{
			{Name: "token", Help: "the API token of an API-only user with the Observer role", Required: true},
		},
		Open: open,
	})
}

type conn struct {
	c       *connector.Client
	base    string
	query   url.Values
	perPage int
}

func open(s *connector.Settings) (connector.Connector, error) {
	base, err := s.URL("url")
	if err != nil {
		return nil, err
	}
	k := &conn{c: s.Client, base: base + "/api/v1/fleet/hosts", query: url.Values{
		"populate_software": {s.Option("software")}, "populate_policies": {s.Option("policies")}, "order_key": {"id"}, "order_direction": {"asc"},
	}}
	if t := s.Option("team_id"); t != "" {
		k.query.Set("team_id", t)
	}
	if k.perPage, err = s.Int("per_page"); err != nil {
		return nil, err
	}
	k.perPage = max(k.perPage, 1)
	tok, err := s.Secret("token")
	if err != nil {
		return nil, err
	}
	k.c.Auth = &connector.HeaderAuth{Value: "Bearer " + tok}
	return k, nil
}

func (k *conn) page(n, size int) string {
	q := url.Values{"page": {strconv.Itoa(n)}, "per_page": {strconv.Itoa(size)}}
	for key, v := range k.query {
		q[key] = v
	}
	return k.base + "?" + q.Encode()
}

// Check reads one host.
func (k *conn) Check(ctx context.Context) (connector.Page, error) {
	res, err := k.c.Get(ctx, k.page(0, 1))
	if err != nil {
		return connector.Page{}, err
	}
	return k.c.Records(res, http.MethodGet, "hosts")
}

// Pull reads page after page until meta.has_next_results is false (Fleet
// 4.40 and later) or a page comes back short.
func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	for n := 0; ; n++ {
		res, err := k.c.Get(ctx, k.page(n, k.perPage))
		if err != nil {
			return err
		}
		pg, err := k.c.Records(res, http.MethodGet, "hosts")
		if err != nil {
			return err
		}
		if err := emit(pg); err != nil {
			return err
		}
		more, err := jsonparser.GetBoolean(res.Body, "meta", "has_next_results")
		if err == nil && !more || len(pg.Objects) < k.perPage {
			return nil
		}
	}
}
