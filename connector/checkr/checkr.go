// Package checkr reads Checkr candidates and their background-check
// reports with an API key, following next_href.
package checkr

import (
	"context"
	"net/http"
	"net/url"
	"sync"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus/connector"
)

func init() {
	connector.Register(&connector.Spec{
		Name:      "checkr",
		Title:     "Checkr",
		Doc:       "docs/connectors/checkr.md",
		Resources: []string{"candidates", "reports"},
		Options: []connector.Option{
			{Name: "api_url", Help: "the API (staging: https://api.checkr-staging.com)", Default: "https://api.checkr.com"},
			{Name: "per_page", Help: "candidates per page (up to 100)", Default: "100"},
			{Name: "concurrency", Help: "report requests in flight at once (reports)", Default: "4"},
		},
		Credentials: []connector.Option{
			{Name: "api_key", Help: "a secret API key (sent as the basic-auth user name)", Required: true},
		},
		Open: open,
	})
}

type conn struct {
	c             *connector.Client
	api, resource string
	perPage       string
	concurrency   int
}

func open(s *connector.Settings) (connector.Connector, error) {
	api, err := s.URL("api_url")
	if err != nil {
		return nil, err
	}
	k := &conn{c: s.Client, api: api, resource: s.Option("resource"), perPage: s.Option("per_page")}
	if k.concurrency, err = s.Int("concurrency"); err != nil {
		return nil, err
	}
	k.concurrency = max(k.concurrency, 1)
	key, err := s.Secret("api_key")
	if err != nil {
		return nil, err
	}
	k.c.Auth = &connector.BasicAuth{User: key}
	return k, nil
}

func (k *conn) first(perPage string) string {
	return k.api + "/v1/candidates?" + url.Values{"per_page": {perPage}}.Encode()
}

// Check reads one candidate (and, for reports, that candidate's reports).
func (k *conn) Check(ctx context.Context) (connector.Page, error) {
	res, err := k.c.Get(ctx, k.first("1"))
	if err != nil {
		return connector.Page{}, err
	}
	pg, err := k.c.Records(res, http.MethodGet, "data")
	if err != nil || k.resource != "reports" {
		return pg, err
	}
	return k.reports(ctx, pg)
}

func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	return connector.Pages(k.first(k.perPage), func(u string) (string, error) {
		res, err := k.c.Get(ctx, u)
		if err != nil {
			return "", err
		}
		pg, err := k.c.Records(res, http.MethodGet, "data")
		if err != nil {
			return "", err
		}
		if k.resource == "reports" {
			if pg, err = k.reports(ctx, pg); err != nil {
				return "", err
			}
		}
		next := connector.String(res.Body, "next_href")
		if next != "" {
			next = connector.Resolve(u, next)
		}
		return next, emit(pg)
	})
}

// reports fetches the reports (GET /v1/reports/{id}) of a page of
// candidates; Checkr lists a candidate's report ids, not the reports.
func (k *conn) reports(ctx context.Context, cands connector.Page) (connector.Page, error) {
	var ids []string
	for _, c := range cands.Objects {
		_, _ = jsonparser.ArrayEach(c, func(v []byte, t jsonparser.ValueType, _ int, _ error) {
			if t == jsonparser.String {
				ids = append(ids, string(v))
			}
		}, "report_ids")
	}
	out := connector.Page{Where: cands.Where + " with each candidate's reports", Objects: make([][]byte, len(ids))}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for w := 0; w < k.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res, err := k.c.Get(ctx, k.api+"/v1/reports/"+url.PathEscape(ids[i]))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					out.Objects[i] = res.Body
					out.Bytes += len(res.Body)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return out, firstErr
	}
	for i, o := range out.Objects {
		if err := connector.CheckObject(o); err != nil {
			return out, &connector.Error{Vendor: k.c.Vendor, Method: http.MethodGet, URL: k.api + "/v1/reports/" + ids[i], Message: err.Error()}
		}
	}
	return out, nil
}
