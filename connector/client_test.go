package connector_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/connector"
	"github.com/onus-sec/onus/connector/connectortest"
)

func newClient(timeout time.Duration) *connector.Client {
	c := connector.NewClient("Vendor", timeout)
	c.BaseDelay, c.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	return c
}

func TestClientRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     connectortest.Fault
		retries   int
		wantErr   string // empty: the request succeeds in the end
		wantTries int64
		minWait   time.Duration
	}{
		{name: "5xx then success", fault: connectortest.Fault{At: 1, Times: 2, Status: 502, Body: "<html>bad gateway</html>"}, retries: 3, wantTries: 3},
		{name: "429 honours Retry-After seconds", fault: connectortest.Fault{At: 1, Status: 429, Body: connectortest.GraphThrottled, Header: http.Header{"Retry-After": {"1"}}}, retries: 3, wantTries: 2, minWait: time.Second},
		{name: "429 waits for the Okta reset", fault: connectortest.Fault{At: 1, Status: 429, Body: connectortest.OktaRateLimited, Header: http.Header{
			"X-Rate-Limit-Remaining": {"0"}, "X-Rate-Limit-Reset": {strconv.FormatInt(time.Now().Unix(), 10)}, "Date": {time.Now().UTC().Format(http.TimeFormat)}}}, retries: 3, wantTries: 2, minWait: 500 * time.Millisecond},
		{name: "503 gives up after the retries", fault: connectortest.Fault{At: 1, Times: 10, Status: 503, Body: `{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unavailable."}}`}, retries: 2, wantTries: 3,
			wantErr: "503 Service Unavailable: The service is temporarily unavailable. [ServiceUnavailable] (after 3 attempts)"},
		{name: "Retry-After beyond max_wait fails now", fault: connectortest.Fault{At: 1, Status: 429, Body: connectortest.OktaRateLimited, Header: http.Header{"Retry-After": {"3600"}}}, retries: 3, wantTries: 1,
			wantErr: "API call exceeded rate limit due to too many requests. [E0000047]; it asks to wait 1h0m0s, longer than max_wait (5m0s)"},
		{name: "403 is not retried, in the vendor's words", fault: connectortest.Fault{At: 1, Times: 10, Status: 403, Body: connectortest.OktaForbidden}, retries: 3, wantTries: 1,
			wantErr: "403 Forbidden: You do not have permission to perform the requested action [E0000006]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := connectortest.New()
			defer s.Close()
			s.Mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) { connectortest.JSON(w, 200, `[{"id":1}]`) })
			tc.fault.Path = "/x"
			s.Inject(tc.fault)
			c := newClient(5 * time.Second)
			c.Retries = tc.retries
			start := time.Now()
			res, err := c.Get(context.Background(), s.URL+"/x")
			waited := time.Since(start)
			if got := s.Requests.Load(); got != tc.wantTries {
				t.Errorf("%d requests, want %d", got, tc.wantTries)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if string(res.Body) != `[{"id":1}]` {
					t.Errorf("body %s", res.Body)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if waited < tc.minWait {
				t.Errorf("waited %s, want at least %s", waited, tc.minWait)
			}
		})
	}
}

func TestClientTimeout(t *testing.T) {
	s := connectortest.New()
	defer s.Close()
	s.Mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { connectortest.JSON(w, 200, `[]`) })
	s.Inject(connectortest.Fault{Path: "/slow", At: 1, Times: 10, Delay: 2 * time.Second})
	c := newClient(100 * time.Millisecond)
	c.Retries = 1
	_, err := c.Get(context.Background(), s.URL+"/slow")
	if err == nil || !strings.Contains(err.Error(), "no answer within 100ms (options.timeout) (after 2 attempts)") {
		t.Fatalf("error %v", err)
	}
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Method != "GET" {
		t.Errorf("error %T does not name the request", err)
	}
}

func TestClientSlowThenFast(t *testing.T) {
	s := connectortest.New()
	defer s.Close()
	s.Mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { connectortest.JSON(w, 200, `[]`) })
	s.Inject(connectortest.Fault{Path: "/slow", At: 1, Delay: 2 * time.Second})
	c := newClient(100 * time.Millisecond)
	if _, err := c.Get(context.Background(), s.URL+"/slow"); err != nil {
		t.Fatalf("a timeout then an answer: %v", err)
	}
}

// TestRateLimitNearlySpent: when Okta says no calls remain in the window,
// the client waits for the reset before returning, rather than collecting
// a 429.
func TestRateLimitNearlySpent(t *testing.T) {
	s := connectortest.New()
	defer s.Close()
	s.Mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Unix(), 10))
		connectortest.JSON(w, 200, `[]`)
	})
	c := newClient(5 * time.Second)
	start := time.Now()
	if _, err := c.Get(context.Background(), s.URL+"/x"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("returned after %s; want a wait for the reset", d)
	}
	if c.Stats().Waited.Load() == 0 {
		t.Error("the wait is not counted")
	}
}

func TestOAuthRefresh(t *testing.T) {
	for _, tc := range []struct {
		name       string
		uses, ttl  int
		wantTokens int64
	}{
		// The API stops accepting each token after 3 requests, as if it
		// expired early or was revoked: the client fetches a new one.
		{name: "refused mid-pull", uses: 3, ttl: 3600, wantTokens: 4},
		// Tokens that expire (within oauth2's 10 s margin) are replaced
		// before they are sent.
		{name: "expired", ttl: 5, wantTokens: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := connectortest.New()
			defer s.Close()
			s.TokenUses, s.TokenTTL = tc.uses, tc.ttl
			s.Mux.HandleFunc("POST /token", s.Token)
			s.Mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
				if s.Bearer(w, r, connectortest.GraphExpired) {
					connectortest.JSON(w, 200, `[]`)
				}
			})
			c := newClient(5 * time.Second)
			c.Auth = &connector.OAuth{Vendor: "Vendor", Source: connector.ClientCredentials(c, s.URL+"/token", "onus-client", "s3cret", nil, nil)}
			for i := 0; i < 10; i++ {
				if _, err := c.Get(context.Background(), s.URL+"/x"); err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
			}
			if got := s.TokenRequests.Load(); got != tc.wantTokens {
				t.Errorf("%d token requests, want %d", got, tc.wantTokens)
			}
		})
	}
}

func TestOAuthWrongSecret(t *testing.T) {
	s := connectortest.New()
	defer s.Close()
	s.Mux.HandleFunc("POST /token", s.Token)
	c := newClient(5 * time.Second)
	c.Auth = &connector.OAuth{Vendor: "Jamf Pro", Source: connector.ClientCredentials(c, s.URL+"/token", "onus-client", "wrong", nil, nil)}
	_, err := c.Get(context.Background(), s.URL+"/x")
	want := "Jamf Pro: POST " + s.URL + "/token: 401 Unauthorized: getting a token: Client authentication failed: unknown client or wrong secret [invalid_client]"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}
	if strings.Contains(err.Error(), "wrong") && strings.Contains(err.Error(), "secret=") {
		t.Error("the error shows the secret")
	}
	if n := s.Requests.Load(); n != 0 {
		t.Errorf("%d API requests without a token", n)
	}
}

func TestVendorMessage(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"okta", `{"errorCode":"E0000001","errorSummary":"Api validation failed: login","errorCauses":[{"errorSummary":"login: An object with this field already exists"}]}`, "Api validation failed: login (login: An object with this field already exists) [E0000001]"},
		{"graph", connectortest.GraphExpired, "Access token has expired or is not yet valid. [InvalidAuthenticationToken]"},
		{"crowdstrike", connectortest.FalconDenied, "access denied, invalid bearer token [401]"},
		{"jamf", connectortest.JamfUnauthorized, "Unauthorized [INVALID_TOKEN]"},
		{"oauth", `{"error":"invalid_client","error_description":"bad secret"}`, "bad secret"},
		{"github", `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`, "Bad credentials"},
		{"html", "<html>\n<body>502 Bad Gateway</body>\n</html>", "<html> <body>502 Bad Gateway</body> </html>"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := connector.VendorMessage([]byte(tc.body)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNextLink(t *testing.T) {
	for _, tc := range []struct{ name, link, want string }{
		{"okta", `<https://acme.okta.com/api/v1/users?limit=200>; rel="self", <https://acme.okta.com/api/v1/users?after=00u1&limit=200>; rel="next"`, "https://acme.okta.com/api/v1/users?after=00u1&limit=200"},
		{"github", `<https://api.github.com/orgs/acme/members?page=2>; rel="next", <https://api.github.com/orgs/acme/members?page=5>; rel="last"`, "https://api.github.com/orgs/acme/members?page=2"},
		{"relative with comma", `</items?cursor=a,b>; rel="next"`, "https://x.example/items?cursor=a,b"},
		{"last page", `<https://acme.okta.com/api/v1/users?limit=200>; rel="self"`, ""},
		{"none", ``, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.link != "" {
				h.Set("Link", tc.link)
			}
			if got := connector.NextLink(h, "https://x.example/items"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClientBadURLNotRetried(t *testing.T) {
	c := newClient(time.Second)
	_, err := c.Get(context.Background(), "http://[::1")
	if err == nil || !strings.Contains(err.Error(), "Vendor: GET http://[::1: ") {
		t.Fatalf("error %v", err)
	}
	if n := c.Stats().Retries.Load(); n != 0 {
		t.Errorf("%d retries of a request that cannot be built", n)
	}
}
