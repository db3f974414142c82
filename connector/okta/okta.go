// Package okta reads Okta's users, each user's enrolled factors, and
// devices through the Okta Management API, with an API token (SSWS),
// Link-header pagination and Okta's X-Rate-Limit-* headers.
package okta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/connector"
)

func init() {
	connector.Register(&connector.Spec{
		Name:        "okta",
		Title:       "Okta",
		Doc:         "docs/connectors/okta.md",
		Resources:   []string{"users", "factors", "devices"},
		Incremental: true,
		Options: []connector.Option{
			{Name: "domain", Help: "your Okta domain (acme.okta.com) or its URL", Required: true},
			{Name: "limit", Help: "records per page (Okta allows up to 200 users and 200 devices)", Default: "200"},
			{Name: "search", Help: "Okta search expression for users (status eq \"ACTIVE\"); all but deprovisioned users when empty"},
			{Name: "concurrency", Help: "factor requests in flight at once (factors)", Default: "4"},
			{Name: "key_id", Help: "the kid of the service app's public key (OAuth)"},
			{Name: "scopes", Help: "OAuth scopes to ask for; the read scope of the resource by default"},
		},
		Credentials: []connector.Option{
			{Name: "token", Help: "an API token of a read-only admin (sent as SSWS); or use client_id and private_key"},
			{Name: "client_id", Help: "client id of an API service app (OAuth 2.0 client credentials with a private-key JWT)"},
			{Name: "private_key", Help: "the service app's RSA private key in PEM (file:PATH)"},
		},
		Open: open,
	})
}

type conn struct {
	c           *connector.Client
	base        string
	resource    string
	limit       int
	search      string
	concurrency int
}

func open(s *connector.Settings) (connector.Connector, error) {
	base, err := s.URL("domain")
	if err != nil {
		return nil, err
	}
	k := &conn{c: s.Client, base: base, resource: s.Option("resource"), search: s.Option("search")}
	if k.limit, err = s.Int("limit"); err != nil {
		return nil, err
	}
	if k.concurrency, err = s.Int("concurrency"); err != nil {
		return nil, err
	}
	k.concurrency = max(k.concurrency, 1)
	switch {
	case s.HasCredential("token"):
		tok, err := s.Secret("token")
		if err != nil {
			return nil, err
		}
		k.c.Auth = &connector.HeaderAuth{Value: "SSWS " + tok}
	case s.HasCredential("client_id") || s.HasCredential("private_key"):
		id, err := s.Secret("client_id")
		if err != nil {
			return nil, err
		}
		pemKey, err := s.Secret("private_key")
		if err != nil {
			return nil, err
		}
		key, err := connector.ParseRSAKey(pemKey)
		if err != nil {
			return nil, onus.Errorf(onus.EINVALID, "source %s: credentials.private_key: %v", s.Source, err)
		}
		scopes := s.List("scopes")
		if len(scopes) == 0 {
			scopes = []string{readScopes[k.resource]}
		}
		k.c.Auth = &connector.OAuth{Vendor: k.c.Vendor, Source: connector.PrivateKeyJWT(k.c, base+"/oauth2/v1/token", id, s.Option("key_id"), key, scopes)}
	default:
		return nil, onus.Errorf(onus.EINVALID, "source %s: connector okta needs credentials.token, or credentials.client_id and credentials.private_key", s.Source)
	}
	if k.resource == "users" {
		return &users{k}, nil
	}
	return k, nil
}

// users is the users resource, which can also pull incrementally: Okta
// updates a user's lastUpdated on every change of profile or status
// (deprovisioning included).
type users struct{ *conn }

// PullSince lists the users changed at or after since.
func (u *users) PullSince(ctx context.Context, since time.Time, emit func(connector.Page) error) error {
	k := *u.conn
	expr := fmt.Sprintf("lastUpdated gt %q", since.UTC().Format("2006-01-02T15:04:05.000Z"))
	if k.search != "" {
		expr = "(" + k.search + ") and " + expr
	}
	k.search = expr
	return k.Pull(ctx, emit)
}

// readScopes are the least-privilege OAuth scopes of each resource.
var readScopes = map[string]string{
	"users":   "okta.users.read",
	"factors": "okta.users.read",
	"devices": "okta.devices.read",
}

func (k *conn) first() string {
	q := url.Values{"limit": {strconv.Itoa(k.limit)}}
	switch k.resource {
	case "devices":
		q.Set("expand", "userSummary")
		return k.base + "/api/v1/devices?" + q.Encode()
	default:
		if k.search != "" {
			q.Set("search", k.search)
		}
		return k.base + "/api/v1/users?" + q.Encode()
	}
}

// Check reads one user (or device), and for factors that user's factors.
func (k *conn) Check(ctx context.Context) (connector.Page, error) {
	u := connector.WithQuery(k.first(), url.Values{"limit": {"1"}})
	res, err := k.c.Get(ctx, u)
	if err != nil {
		return connector.Page{}, err
	}
	pg, err := k.c.Records(res, http.MethodGet, "")
	if err != nil || k.resource != "factors" {
		return pg, err
	}
	return k.factors(ctx, pg)
}

func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	return connector.Pages(k.first(), func(u string) (string, error) {
		res, err := k.c.Get(ctx, u)
		if err != nil {
			return "", err
		}
		pg, err := k.c.Records(res, http.MethodGet, "")
		if err != nil {
			return "", err
		}
		if k.resource == "factors" {
			if pg, err = k.factors(ctx, pg); err != nil {
				return "", err
			}
		}
		return connector.NextLink(res.Header, u), emit(pg)
	})
}

// factors turns a page of users into one record per user, shaped
// {"userId": …, "factors": [GET /api/v1/users/{id}/factors]}, fetching a
// few users' factors at once.
func (k *conn) factors(ctx context.Context, users connector.Page) (connector.Page, error) {
	out := connector.Page{Where: users.Where + " with each user's factors", Objects: make([][]byte, len(users.Objects))}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
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
				obj, n, err := k.userFactors(ctx, users.Objects[i], i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				out.Objects[i] = obj
				out.Bytes += n
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range users.Objects {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return out, firstErr
	}
	return out, ctx.Err()
}

func (k *conn) userFactors(ctx context.Context, user []byte, i int) ([]byte, int, error) {
	id, err := jsonparser.GetString(user, "id")
	if err != nil || id == "" {
		return nil, 0, fmt.Errorf("okta: user %d of the page has no id", i+1)
	}
	res, err := k.c.Get(ctx, k.base+"/api/v1/users/"+url.PathEscape(id)+"/factors")
	if err != nil {
		return nil, 0, err
	}
	pg, err := k.c.Records(res, http.MethodGet, "")
	if err != nil {
		return nil, 0, err
	}
	qid, _ := json.Marshal(id)
	obj := make([]byte, 0, len(res.Body)+len(qid)+24)
	obj = append(obj, `{"userId":`...)
	obj = append(obj, qid...)
	obj = append(obj, `,"factors":[`...)
	for j, f := range pg.Objects {
		if j > 0 {
			obj = append(obj, ',')
		}
		obj = append(obj, f...)
	}
	obj = append(obj, "]}"...)
	return obj, len(res.Body), nil
}
