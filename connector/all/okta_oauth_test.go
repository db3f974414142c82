package all_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/oauth2/jws"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/connector/connectortest"
)

// TestOktaPrivateKeyJWT reads Okta users as a service app: the token
// request carries a JWT signed with the app's key, and each token is good
// for only three requests, so the pull refreshes it several times.
func TestOktaPrivateKeyJWT(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "okta.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	t.Setenv("T_OKTA_CLIENT", "0oa1service")

	s := connectortest.New()
	defer s.Close()
	s.Okta(oktaUsers(t, 1500), nil, nil)
	s.TokenUses = 3
	s.Mux.HandleFunc("POST /oauth2/v1/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f := r.PostForm
		a := f.Get("client_assertion")
		claims, derr := jws.Decode(a)
		switch {
		case f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || jws.Verify(a, &key.PublicKey) != nil || derr != nil:
			connectortest.JSON(w, 401, `{"error":"invalid_client","error_description":"The client_assertion signature is invalid."}`)
		case claims.Iss != "0oa1service" || claims.Sub != "0oa1service" || claims.Aud != s.URL+"/oauth2/v1/token" || claims.PrivateClaims["jti"] == "":
			connectortest.JSON(w, 401, `{"error":"invalid_client","error_description":"The client_assertion token has invalid claims."}`)
		case f.Get("scope") != "okta.users.read":
			connectortest.JSON(w, 400, `{"error":"invalid_scope","error_description":"The requested scope is invalid, unknown, or malformed."}`)
		default:
			s.Token(w, withClientForm(r, s))
		}
	})
	src := &config.Source{Name: "okta", Connector: "okta", Options: map[string]string{"domain": s.URL},
		Credentials: map[string]string{"client_id": "env:T_OKTA_CLIENT", "private_key": "file:" + keyFile},
		Map:         config.Map{ID: "id"}}
	res, err := read(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Snapshot.Records.Len(); n != 1500 {
		t.Errorf("%d records, want 1500", n)
	}
	// 8 pages at 3 requests a token: 3 tokens at least, each after a 401.
	if n := s.TokenRequests.Load(); n < 3 {
		t.Errorf("%d token requests: the pull did not refresh its token", n)
	}
}
