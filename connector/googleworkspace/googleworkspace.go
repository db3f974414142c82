// Package googleworkspace reads Google Workspace through the Admin SDK
// Directory API: users, mobile devices and ChromeOS devices, as a service
// account with domain-wide delegation acting for a read-only admin,
// following nextPageToken.
package googleworkspace

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/buger/jsonparser"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/connector"
)

// The read-only scope each resource needs; the service account's client id
// is granted exactly these in the Admin console.
var scopes = map[string]string{
	"users":            "https://www.googleapis.com/auth/admin.directory.user.readonly",
	"mobile_devices":   "https://www.googleapis.com/auth/admin.directory.device.mobile.readonly",
	"chromeos_devices": "https://www.googleapis.com/auth/admin.directory.device.chromeos.readonly",
}

func init() {
	connector.Register(&connector.Spec{
		Name:      "google_workspace",
		Title:     "Google Workspace",
		Doc:       "docs/connectors/google_workspace.md",
		Resources: []string{"users", "mobile_devices", "chromeos_devices"},
		Options: []connector.Option{
			{Name: "subject", Help: "the e-mail of the admin the service account acts for", Required: true},
			{Name: "customer", Help: "the customer id", Default: "my_customer"},
			{Name: "max_results", Help: "records per page (users up to 500, devices up to 100)", Default: "100"},
			{Name: "api_url", Help: "the Admin SDK endpoint", Default: "https://admin.googleapis.com"},
			{Name: "token_url", Help: "the token endpoint; the key file's token_uri by default"},
		},
		Credentials: []connector.Option{
			{Name: "service_account_key", Help: "the service account's JSON key (file:PATH)", Required: true},
		},
		Open: open,
	})
}

type conn struct {
	c       *connector.Client
	first   string
	records string
}

func open(s *connector.Settings) (connector.Connector, error) {
	api, err := s.URL("api_url")
	if err != nil {
		return nil, err
	}
	keyJSON, err := s.Secret("service_account_key")
	if err != nil {
		return nil, err
	}
	var key struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKey   string `json:"private_key"`
		PrivateKeyID string `json:"private_key_id"`
		TokenURI     string `json:"token_uri"`
	}
	if err := json.Unmarshal([]byte(keyJSON), &key); err != nil || key.ClientEmail == "" || key.PrivateKey == "" {
		return nil, onus.Errorf(onus.EINVALID, "source %s: credentials.service_account_key is not a service account's JSON key (it needs client_email and private_key)", s.Source)
	}
	tokenURL := s.Option("token_url")
	if tokenURL == "" {
		tokenURL = key.TokenURI
	}
	if tokenURL == "" {
		tokenURL = "https://oauth2.googleapis.com/token"
	}
	resource := s.Option("resource")
	cfg := &jwt.Config{
		Email: key.ClientEmail, PrivateKey: []byte(key.PrivateKey), PrivateKeyID: key.PrivateKeyID,
		Scopes: []string{scopes[resource]}, TokenURL: tokenURL, Subject: s.Option("subject"),
	}
	client := s.Client
	client.Auth = &connector.OAuth{Vendor: client.Vendor, Source: tokenFunc(func(ctx context.Context) (*oauth2.Token, error) {
		return cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, client.HTTP)).Token()
	})}
	q := url.Values{"maxResults": {s.Option("max_results")}}
	k := &conn{c: client}
	customer := url.PathEscape(s.Option("customer"))
	switch resource {
	case "users":
		q.Set("customer", s.Option("customer"))
		q.Set("projection", "full")
		k.first, k.records = api+"/admin/directory/v1/users?"+q.Encode(), "users"
	case "mobile_devices":
		k.first, k.records = api+"/admin/directory/v1/customer/"+customer+"/devices/mobile?"+q.Encode(), "mobiledevices"
	default:
		k.first, k.records = api+"/admin/directory/v1/customer/"+customer+"/devices/chromeos?"+q.Encode(), "chromeosdevices"
	}
	return k, nil
}

type tokenFunc func(ctx context.Context) (*oauth2.Token, error)

func (f tokenFunc) Token(ctx context.Context) (*oauth2.Token, error) { return f(ctx) }

// Check reads one record.
func (k *conn) Check(ctx context.Context) (connector.Page, error) {
	res, err := k.c.Get(ctx, connector.WithQuery(k.first, url.Values{"maxResults": {strconv.Itoa(1)}}))
	if err != nil {
		return connector.Page{}, err
	}
	return k.page(res)
}

func (k *conn) page(res *connector.Response) (connector.Page, error) {
	// An empty list has no records key at all, only "kind" and "etag".
	if _, _, _, err := jsonparser.Get(res.Body, k.records); err == jsonparser.KeyPathNotFoundError && json.Valid(res.Body) && connector.String(res.Body, "kind") != "" {
		return connector.Page{Where: http.MethodGet + " " + res.URL, Bytes: len(res.Body)}, nil
	}
	return k.c.Records(res, http.MethodGet, k.records)
}

// Pull follows nextPageToken.
func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	return connector.Pages(k.first, func(u string) (string, error) {
		res, err := k.c.Get(ctx, u)
		if err != nil {
			return "", err
		}
		pg, err := k.page(res)
		if err != nil {
			return "", err
		}
		next := ""
		if tok := connector.String(res.Body, "nextPageToken"); tok != "" {
			next = connector.WithQuery(k.first, url.Values{"pageToken": {tok}})
		}
		return next, emit(pg)
	})
}
