package http

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

// oidcClient is onus as an OpenID Connect relying party: authorization
// code flow with PKCE, the ID token verified for issuer, audience, expiry,
// signature and nonce.
type oidcClient struct {
	provider   *oidc.Provider
	oauth      oauth2.Config
	clientID   string
	emailClaim string
}

func newOIDC(ctx context.Context, cfg *config.Serve, secret string) (*oidcClient, error) {
	o := cfg.OIDC
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "serve.oidc: cannot discover the identity provider at %s: %v", o.Issuer, err)
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	claim := o.EmailClaim
	if claim == "" {
		claim = "email"
	}
	return &oidcClient{provider: p, clientID: o.ClientID, emailClaim: claim, oauth: oauth2.Config{
		ClientID: o.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(), Scopes: scopes,
		RedirectURL: strings.TrimSuffix(cfg.URL, "/") + "/auth/callback",
	}}, nil
}

// authURL is where the browser goes to sign in.
func (c *oidcClient) authURL(state, nonce, verifier string) string {
	return c.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
}

// errSignIn is a sign-in failure whose message is safe to show.
type errSignIn struct{ msg string }

func (e *errSignIn) Error() string { return e.msg }

// exchange trades the code for tokens and returns the verified e-mail.
func (c *oidcClient) exchange(ctx context.Context, code, verifier, nonce string, now func() time.Time) (string, error) {
	tok, err := c.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return "", &errSignIn{"the identity provider did not accept the sign-in code: " + oauthReason(err)}
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", &errSignIn{"the identity provider returned no ID token"}
	}
	email, err := c.verify(ctx, raw, nonce, now)
	if err != nil {
		return "", err
	}
	if email == "" {
		// Some providers put the address only in the userinfo endpoint.
		ui, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return "", &errSignIn{"the identity provider did not say who you are (userinfo failed)"}
		}
		var claims map[string]any
		if err := ui.Claims(&claims); err != nil {
			return "", &errSignIn{"cannot read the userinfo claims"}
		}
		if v, ok := claims["email_verified"].(bool); ok && !v {
			return "", &errSignIn{"your identity provider says your e-mail address is not verified"}
		}
		email, _ = claims[c.emailClaim].(string)
	}
	return email, nil
}

// verify checks an ID token (signature, issuer, audience, expiry) and its
// nonce, and returns its e-mail claim ("" when it has none). An e-mail
// the provider says is not verified is refused.
func (c *oidcClient) verify(ctx context.Context, raw, nonce string, now func() time.Time) (string, error) {
	v := c.provider.Verifier(&oidc.Config{ClientID: c.clientID, Now: now})
	id, err := v.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return "", &errSignIn{"the sign-in expired; sign in again"}
		}
		return "", &errSignIn{"the identity provider's answer did not verify: " + err.Error()}
	}
	if nonce == "" || id.Nonce != nonce {
		return "", &errSignIn{"the sign-in answer does not belong to this sign-in (nonce mismatch); sign in again"}
	}
	var claims map[string]any
	if err := id.Claims(&claims); err != nil {
		return "", &errSignIn{"cannot read the ID token's claims"}
	}
	if v, ok := claims["email_verified"].(bool); ok && !v {
		return "", &errSignIn{"your identity provider says your e-mail address is not verified"}
	}
	email, _ := claims[c.emailClaim].(string)
	return email, nil
}

func oauthReason(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return re.ErrorCode
	}
	return "the exchange failed"
}
