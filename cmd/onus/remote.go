package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/store"
)

// remote calls the API of an "onus serve" (--server) with a token
// (--token): identity comes from the token, not from --as.
func (a *app) remote(ctx context.Context, method, path string, in map[string]string, out any) error {
	if a.token == "" {
		return onus.Errorf(onus.EINVALID, "--server needs --token (or $ONUS_TOKEN): make one on the server's tokens page")
	}
	if u, err := url.Parse(a.server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return onus.Errorf(onus.EINVALID, "--server %q is not the address of an onus serve: write it with its scheme, such as https://onus.acme.com or http://127.0.0.1:8080", a.server)
	}
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.server, "/")+"/api/v1"+path, body)
	if err != nil {
		return onus.Errorf(onus.EINVALID, "--server %q: %v", a.server, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return onus.Errorf(onus.EINVALID, "cannot reach the server %s: %v", a.server, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if res.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			return onus.Errorf(e.Error.Code, "%s", e.Error.Message)
		}
		return onus.Errorf(onus.EINTERNAL, "the server answered %s", res.Status)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("the server's answer is not what this onus expects: %w", err)
		}
	}
	return nil
}

// noAsWithServer refuses --as beside --server: through the server, the
// token says who acts.
func (a *app) noAsWithServer(cmd *cobra.Command) error {
	if f := cmd.Flags().Lookup("as"); f != nil && f.Changed {
		return onus.Errorf(onus.EINVALID, "--as is for an administrator acting directly on the database file; through --server the token says who acts: drop --as, or use the token of the person acting")
	}
	return nil
}

// auditAs marks in the audit log that someone at the console acted as
// another person directly on the database file (--as), not signed in.
func auditAs(ctx context.Context, db *store.DB, as, object string) {
	_ = db.Audit(ctx, actor(), "cli.act_as", object, "acted as "+as+" with --as, directly on the database file")
}
