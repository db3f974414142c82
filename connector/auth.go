package connector

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// HeaderAuth sends a fixed credential in a header: an API token
// ("Authorization: SSWS …" for Okta, "Bearer …" for most others).
type HeaderAuth struct {
	Name  string // the header, Authorization by default
	Value string
}

var _ Auth = (*HeaderAuth)(nil)

// Authorize sets the header.
func (a *HeaderAuth) Authorize(_ context.Context, req *http.Request) error {
	name := a.Name
	if name == "" {
		name = "Authorization"
	}
	req.Header.Set(name, a.Value)
	return nil
}

// Refresh reports false: a fixed token does not change.
func (a *HeaderAuth) Refresh() bool { return false }

// BasicAuth sends a user name and password (BambooHR and Checkr take an
// API key as the user name).
type BasicAuth struct{ User, Password string }

// Authorize sets the basic credentials.
func (a *BasicAuth) Authorize(_ context.Context, req *http.Request) error {
	req.SetBasicAuth(a.User, a.Password)
	return nil
}

// Refresh reports false: a fixed key does not change.
func (a *BasicAuth) Refresh() bool { return false }

// TokenSource is where a token-based Auth gets its tokens.
type TokenSource interface {
	// Token returns a new token; it returns the token endpoint's refusal,
	// in the vendor's words, on failure.
	Token(ctx context.Context) (*oauth2.Token, error)
}

// OAuth sends a bearer token from an OAuth 2.0 token endpoint, fetching a
// new one when the current one expires (a little before, as
// golang.org/x/oauth2 reckons it) or the API refuses it.
type OAuth struct {
	Source TokenSource
	// Vendor names the token endpoint's owner in errors.
	Vendor string

	mu  sync.Mutex
	tok *oauth2.Token
}

var _ Auth = (*OAuth)(nil)

// Authorize sets a valid bearer token.
func (a *OAuth) Authorize(ctx context.Context, req *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == nil || !a.tok.Valid() {
		tok, err := a.Source.Token(ctx)
		if err != nil {
			return tokenError(a.Vendor, err)
		}
		a.tok = tok
	}
	a.tok.SetAuthHeader(req)
	return nil
}

// Refresh forgets the current token so the next request gets a new one.
func (a *OAuth) Refresh() bool {
	a.mu.Lock()
	a.tok = nil
	a.mu.Unlock()
	return true
}

// ClientCredentials returns the token source of an OAuth 2.0 client
// credentials grant. The token requests go through client's HTTP client
// (its timeout). params are extra form values (Okta's and some others'
// audience or resource).
func ClientCredentials(client *Client, tokenURL, id, secret string, scopes []string, params url.Values) TokenSource {
	cfg := &clientcredentials.Config{
		ClientID: id, ClientSecret: secret, TokenURL: tokenURL, Scopes: scopes,
		EndpointParams: params,
		// Jamf Pro, CrowdStrike and Entra ID all take the client's
		// credentials in the form; sending them in the header too makes
		// some refuse.
		AuthStyle: oauth2.AuthStyleInParams,
	}
	return tokenFunc(func(ctx context.Context) (*oauth2.Token, error) {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, client.HTTP)
		return cfg.Token(ctx)
	})
}

type tokenFunc func(ctx context.Context) (*oauth2.Token, error)

func (f tokenFunc) Token(ctx context.Context) (*oauth2.Token, error) { return f(ctx) }

// tokenError turns a token endpoint's refusal into the vendor's words.
func tokenError(vendor string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := VendorMessage(re.Body)
		if re.ErrorDescription != "" {
			msg = re.ErrorDescription
		}
		if re.ErrorCode != "" {
			msg += " [" + re.ErrorCode + "]"
		}
		e := &Error{Vendor: vendor, Method: http.MethodPost, Message: "getting a token: " + msg}
		if re.Response != nil {
			e.Status = re.Response.StatusCode
			e.URL = re.Response.Request.URL.String()
		}
		return e
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &Error{Vendor: vendor, Method: ue.Op, URL: ue.URL, Message: "getting a token: " + ue.Err.Error()}
	}
	return &Error{Vendor: vendor, Message: "getting a token: " + err.Error()}
}
