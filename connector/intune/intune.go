// Package intune reads Microsoft Intune's managed devices through Microsoft
// Graph (GET /deviceManagement/managedDevices), as an Entra ID application
// with client credentials, following @odata.nextLink. Graph throttles with
// 429 and Retry-After, which the shared client honours.
package intune

import (
	"context"
	"net/http"
	"net/url"

	"github.com/onus-sec/onus/connector"
)

func init() {
	connector.Register(&connector.Spec{
		Name:  "intune",
		Title: "Microsoft Intune (Graph)",
		Doc:   "docs/connectors/intune.md",
		Options: []connector.Option{
			{Name: "tenant", Help: "your Entra ID tenant id or domain", Required: true},
			{Name: "select", Help: "comma-separated properties to read ($select); all when empty"},
			{Name: "filter", Help: "OData $filter of the devices to read"},
			{Name: "graph_url", Help: "the Graph endpoint (national clouds: https://graph.microsoft.us)", Default: "https://graph.microsoft.com"},
			{Name: "login_url", Help: "the Entra ID login endpoint (national clouds: https://login.microsoftonline.us)", Default: "https://login.microsoftonline.com"},
			{Name: "api_version", Help: "Graph version", Default: "v1.0"},
		},
		Credentials: []connector.Option{
			{Name: "client_id", Help: "application (client) id", Required: true},
			{Name: "client_secret", Help: "client secret value", Required: true},
		},
		Open: open,
	})
}

type conn struct {
	c     *connector.Client
	first string
}

func open(s *connector.Settings) (connector.Connector, error) {
	graph, err := s.URL("graph_url")
	if err != nil {
		return nil, err
	}
	login, err := s.URL("login_url")
	if err != nil {
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
	q := url.Values{}
	if v := s.Option("select"); v != "" {
		q.Set("$select", v)
	}
	if v := s.Option("filter"); v != "" {
		q.Set("$filter", v)
	}
	k := &conn{c: s.Client, first: graph + "/" + s.Option("api_version") + "/deviceManagement/managedDevices"}
	if len(q) > 0 {
		k.first += "?" + q.Encode()
	}
	tokenURL := login + "/" + url.PathEscape(s.Option("tenant")) + "/oauth2/v2.0/token"
	k.c.Auth = &connector.OAuth{Vendor: k.c.Vendor, Source: connector.ClientCredentials(k.c, tokenURL, id, secret, []string{graph + "/.default"}, nil)}
	return k, nil
}

// Check reads one device: it needs DeviceManagementManagedDevices.Read.All.
func (k *conn) Check(ctx context.Context) (connector.Page, error) {
	res, err := k.c.Get(ctx, connector.WithQuery(k.first, url.Values{"$top": {"1"}}))
	if err != nil {
		return connector.Page{}, err
	}
	return k.c.Records(res, http.MethodGet, "value")
}

// Pull follows @odata.nextLink to the last page.
func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	return connector.Pages(k.first, func(u string) (string, error) {
		res, err := k.c.Get(ctx, u)
		if err != nil {
			return "", err
		}
		pg, err := k.c.Records(res, http.MethodGet, "value")
		if err != nil {
			return "", err
		}
		return connector.String(res.Body, "@odata.nextLink"), emit(pg)
	})
}
