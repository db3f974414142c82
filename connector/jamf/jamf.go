// Package jamf reads Jamf Pro's computer inventory
// (GET /api/v1/computers-inventory) with the sections a source needs, page
// by page, as an API client with OAuth client credentials.
package jamf

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/onus-sec/onus/connector"
)

func init() {
	connector.Register(&connector.Spec{
		Name:  "jamf",
		Title: "Jamf Pro",
		Doc:   "docs/connectors/jamf.md",
		Options: []connector.Option{
			{Name: "url", Help: "your Jamf Pro URL (acme.jamfcloud.com)", Required: true},
			{Name: "sections", Help: "comma-separated inventory sections to read", Default: "GENERAL,HARDWARE,USER_AND_LOCATION,OPERATING_SYSTEM"},
			{Name: "page_size", Help: "computers per page (Jamf allows up to 2000)", Default: "200"},
		},
		Credentials: []connector.Option{
			{Name: "client_id", Help: "API client id", Required: true},
			{Name: "client_secret", Help: "API client secret", Required: true},
		},
		Open: open,
	})
}

type conn struct {
	c        *connector.Client
	base     string
	sections []string
	size     int
}

func open(s *connector.Settings) (connector.Connector, error) {
	base, err := s.URL("url")
	if err != nil {
		return nil, err
	}
	k := &conn{c: s.Client, base: base, sections: s.List("sections")}
	if k.size, err = s.Int("page_size"); err != nil {
		return nil, err
	}
	id, err := s.Secret("client_id")
	if err != nil {
		return nil, err
	}
	secret, err := s.Secret("client_secret")
	if err != nil {
		return nil, err
	}
	k.c.Auth = &connector.OAuth{Vendor: k.c.Vendor, Source: connector.ClientCredentials(k.c, base+"/api/oauth/token", id, secret, nil, nil)}
	return k, nil
}

func (k *conn) page(n, size int) string {
	q := url.Values{"page": {strconv.Itoa(n)}, "page-size": {strconv.Itoa(size)}, "sort": {"id:asc"}}
	for _, s := range k.sections {
		q.Add("section", strings.ToUpper(s))
	}
	return k.base + "/api/v1/computers-inventory?" + q.Encode()
}

// Check reads one computer with every configured section, which proves the
// client has "Read Computers" and can see those sections.
func (k *conn) Check(ctx context.Context) (connector.Page, error) {
	res, err := k.c.Get(ctx, k.page(0, 1))
	if err != nil {
		return connector.Page{}, err
	}
	return k.c.Records(res, http.MethodGet, "results")
}

// Pull reads page after page, sorted by id so that a computer enrolled
// mid-pull cannot shift another off a page boundary unseen, until a page
// comes back short or totalCount is reached.
func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	seen := 0
	for n := 0; ; n++ {
		res, err := k.c.Get(ctx, k.page(n, k.size))
		if err != nil {
			return err
		}
		pg, err := k.c.Records(res, http.MethodGet, "results")
		if err != nil {
			return err
		}
		if err := emit(pg); err != nil {
			return err
		}
		seen += len(pg.Objects)
		total, ok := connector.Int(res.Body, "totalCount")
		if len(pg.Objects) < k.size || ok && int64(seen) >= total {
			return nil
		}
	}
}
