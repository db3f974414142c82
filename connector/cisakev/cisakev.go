// Package cisakev reads CISA's Known Exploited Vulnerabilities catalog,
// one record per CVE, so that controls can ask whether installed software
// has a vulnerability that is being exploited.
package cisakev

import (
	"context"
	"net/http"

	"github.com/onus-sec/onus/connector"
)

// URL is where CISA publishes the catalog as JSON.
const URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"

func init() {
	connector.Register(&connector.Spec{
		Name:  "cisa_kev",
		Title: "CISA Known Exploited Vulnerabilities",
		Doc:   "docs/connectors/cisa_kev.md",
		Options: []connector.Option{
			{Name: "url", Help: "the catalog's JSON feed (a mirror inside your network)", Default: URL},
		},
		Open: func(s *connector.Settings) (connector.Connector, error) {
			u, err := s.URL("url")
			return &conn{c: s.Client, url: u}, err
		},
	})
}

type conn struct {
	c   *connector.Client
	url string
}

// Pull reads the whole catalog: it is one document.
func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	res, err := k.c.Get(ctx, k.url)
	if err != nil {
		return err
	}
	pg, err := k.c.Records(res, http.MethodGet, "vulnerabilities")
	if err != nil {
		return err
	}
	return emit(pg)
}
