package connector

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/url"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/jws"
)

// ParseRSAKey reads an RSA private key in PEM (PKCS #1 or PKCS #8).
func ParseRSAKey(pemText string) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode([]byte(pemText))
	if blk == nil {
		return nil, errors.New("not a PEM private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA private key in PKCS #1 or PKCS #8")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the private key is not RSA")
	}
	return rk, nil
}

// PrivateKeyJWT returns the token source of an OAuth 2.0 client credentials
// grant in which the client proves itself with a JWT signed by its private
// key (RFC 7523, "private_key_jwt"), as Okta's service apps do. Each token
// request carries a new assertion: issuer and subject the client id,
// audience the token URL, a random jti, valid for the hour golang.org/x/oauth2/jws
// gives it.
func PrivateKeyJWT(client *Client, tokenURL, clientID, keyID string, key *rsa.PrivateKey, scopes []string) TokenSource {
	return tokenFunc(func(ctx context.Context) (*oauth2.Token, error) {
		jti := make([]byte, 16)
		if _, err := rand.Read(jti); err != nil {
			return nil, err
		}
		claims := &jws.ClaimSet{Iss: clientID, Sub: clientID, Aud: tokenURL, PrivateClaims: map[string]any{"jti": hex.EncodeToString(jti)}}
		assertion, err := jws.Encode(&jws.Header{Algorithm: "RS256", Typ: "JWT", KeyID: keyID}, claims, key)
		if err != nil {
			return nil, err
		}
		cfg := &clientcredentials.Config{
			ClientID: clientID, TokenURL: tokenURL, Scopes: scopes, AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: url.Values{
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {assertion},
			},
		}
		return cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, client.HTTP))
	})
}
