// Package github reads a GitHub organisation: its members, its
// repositories with their CODEOWNERS file, and its open Dependabot and
// secret-scanning alerts, with a token, Link-header pagination and
// GitHub's X-RateLimit-* headers.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus/connector"
)

func init() {
	connector.Register(&connector.Spec{
		Name:      "github",
		Title:     "GitHub",
		Doc:       "docs/connectors/github.md",
		Resources: []string{"members", "repositories", "dependabot_alerts", "secret_scanning_alerts"},
		Options: []connector.Option{
			{Name: "org", Help: "the organisation's login", Required: true},
			{Name: "api_url", Help: "the API (GitHub Enterprise Server: https://HOST/api/v3)", Default: "https://api.github.com"},
			{Name: "state", Help: "alert state to read (dependabot_alerts, secret_scanning_alerts)", Default: "open"},
			{Name: "codeowners", Help: "read each repository's CODEOWNERS file into its codeowners field (repositories)", Default: "true"},
			{Name: "concurrency", Help: "CODEOWNERS requests in flight at once", Default: "4"},
		},
		Credentials: []connector.Option{
			{Name: "token", Help: "a fine-grained token or GitHub App installation token with read access", Required: true},
		},
		Open: open,
	})
}

type conn struct {
	c                  *connector.Client
	api, org, resource string
	state              string
	codeowners         bool
	concurrency        int
}

func open(s *connector.Settings) (connector.Connector, error) {
	api, err := s.URL("api_url")
	if err != nil {
		return nil, err
	}
	k := &conn{c: s.Client, api: api, org: s.Option("org"), resource: s.Option("resource"), state: s.Option("state"), codeowners: s.Option("codeowners") == "true"}
	if k.concurrency, err = s.Int("concurrency"); err != nil {
		return nil, err
	}
	k.concurrency = max(k.concurrency, 1)
	tok, err := s.Secret("token")
	if err != nil {
		return nil, err
	}
	k.c.Auth = &connector.HeaderAuth{Value: "Bearer " + tok}
	k.c.Header.Set("Accept", "application/vnd.github+json")
	k.c.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	return k, nil
}

func (k *conn) first(perPage string) string {
	org := url.PathEscape(k.org)
	q := url.Values{"per_page": {perPage}}
	switch k.resource {
	case "members":
		return k.api + "/orgs/" + org + "/members?" + q.Encode()
	case "repositories":
		q.Set("type", "all")
		return k.api + "/orgs/" + org + "/repos?" + q.Encode()
	case "dependabot_alerts":
		q.Set("state", k.state)
		return k.api + "/orgs/" + org + "/dependabot/alerts?" + q.Encode()
	default:
		q.Set("state", k.state)
		return k.api + "/orgs/" + org + "/secret-scanning/alerts?" + q.Encode()
	}
}

// Check reads one record of the resource.
func (k *conn) Check(ctx context.Context) (connector.Page, error) {
	res, err := k.c.Get(ctx, k.first("1"))
	if err != nil {
		return connector.Page{}, err
	}
	pg, err := k.c.Records(res, http.MethodGet, "")
	if err != nil || k.resource != "repositories" || !k.codeowners {
		return pg, err
	}
	return pg, k.withCodeowners(ctx, &pg)
}

func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	return connector.Pages(k.first("100"), func(u string) (string, error) {
		res, err := k.c.Get(ctx, u)
		if err != nil {
			return "", err
		}
		pg, err := k.c.Records(res, http.MethodGet, "")
		if err != nil {
			return "", err
		}
		if k.resource == "repositories" && k.codeowners {
			if err := k.withCodeowners(ctx, &pg); err != nil {
				return "", err
			}
		}
		return connector.NextLink(res.Header, u), emit(pg)
	})
}

// codeownersPaths are where GitHub looks for CODEOWNERS, in its order.
var codeownersPaths = []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}

// withCodeowners adds "codeowners" (the file's text, or null) to each
// repository of the page.
func (k *conn) withCodeowners(ctx context.Context, pg *connector.Page) error {
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
				obj, err := k.addCodeowners(ctx, pg.Objects[i])
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				pg.Objects[i] = obj
				mu.Unlock()
			}
		}()
	}
	for i := range pg.Objects {
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}

func (k *conn) addCodeowners(ctx context.Context, repo []byte) ([]byte, error) {
	name, err := jsonparser.GetString(repo, "full_name")
	if err != nil {
		return repo, errors.New("github: a repository has no full_name")
	}
	text := []byte("null")
	for _, p := range codeownersPaths {
		res, err := k.c.Do(ctx, http.MethodGet, k.api+"/repos/"+name+"/contents/"+p, nil, http.Header{"Accept": {"application/vnd.github.raw+json"}})
		var ce *connector.Error
		if errors.As(err, &ce) && (ce.Status == http.StatusNotFound || ce.Status == http.StatusConflict) { // no file; an empty repository
			continue
		}
		if err != nil {
			return repo, err
		}
		text, _ = json.Marshal(string(res.Body))
		break
	}
	return jsonparser.Set(append([]byte(nil), repo...), text, "codeowners")
}
