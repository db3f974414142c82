// Package httpjson is the generic connector: any HTTPS API that returns
// JSON records, with a token from env: or file:, and Link-header, next-URL,
// cursor or page-number pagination. It is how onus reads an HRIS or an
// internal service that has no connector of its own.
package httpjson

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/connector"
)

func init() {
	connector.Register(&connector.Spec{
		Name:  "http",
		Title: "HTTP API (JSON or CSV)",
		Doc:   "docs/connectors/http.md",
		Options: []connector.Option{
			{Name: "url", Help: "the URL of the first page", Required: true},
			{Name: "format", Help: "json, or csv for a CSV file with a header row (one request, no pagination)", Default: "json"},
			{Name: "delimiter", Help: "the CSV delimiter", Default: ","},
			{Name: "records", Help: "dotted path of the record list in each response (empty: the response is the list)"},
			{Name: "pagination", Help: "link (Link header), next_url (a URL in the body), cursor (a token in the body, sent back as a query parameter), page (page numbers) or none", Default: "link"},
			{Name: "next", Help: "dotted path of the next URL (next_url) or of the cursor (cursor) in the body"},
			{Name: "cursor_param", Help: "query parameter that carries the cursor", Default: "cursor"},
			{Name: "page_param", Help: "query parameter of the page number", Default: "page"},
			{Name: "size_param", Help: "query parameter of the page size", Default: "per_page"},
			{Name: "page_size", Help: "records per page (page pagination)", Default: "100"},
			{Name: "first_page", Help: "number of the first page", Default: "1"},
			{Name: "auth_header", Help: "header that carries the token", Default: "Authorization"},
			{Name: "auth_scheme", Help: "word written before the token (Bearer, token, SSWS); none for the bare token", Default: "Bearer"},
			{Name: "token_url", Help: "OAuth 2.0 token endpoint; with client_id and client_secret, a client-credentials token replaces the static token"},
			{Name: "scopes", Help: "comma-separated OAuth scopes"},
		},
		Credentials: []connector.Option{
			{Name: "token", Help: "API token sent in auth_header"},
			{Name: "client_id", Help: "OAuth client id (with token_url)"},
			{Name: "client_secret", Help: "OAuth client secret (with token_url)"},
		},
		Open: open,
	})
}

type conn struct {
	c                       *connector.Client
	csv                     bool
	delimiter               rune
	url, records, mode, nxt string
	cursorParam             string
	pageParam, sizeParam    string
	pageSize, firstPage     int
}

func open(s *connector.Settings) (connector.Connector, error) {
	u, err := s.URL("url")
	if err != nil {
		return nil, err
	}
	k := &conn{c: s.Client, url: u, records: s.Option("records"), mode: s.Option("pagination"), nxt: s.Option("next"),
		cursorParam: s.Option("cursor_param"), pageParam: s.Option("page_param"), sizeParam: s.Option("size_param")}
	switch f := s.Option("format"); f {
	case "json":
	case "csv":
		k.csv = true
		d := []rune(s.Option("delimiter"))
		if len(d) != 1 {
			return nil, onus.Errorf(onus.EINVALID, "source %s: options.delimiter must be one character", s.Source)
		}
		k.delimiter = d[0]
	default:
		return nil, onus.Errorf(onus.EINVALID, "source %s: options.format %q is not json or csv", s.Source, f)
	}
	switch k.mode {
	case "link", "none", "page":
	case "next_url", "cursor":
		if k.nxt == "" {
			return nil, onus.Errorf(onus.EINVALID, "source %s: pagination %s needs options.next, the path of the %s in the response", s.Source, k.mode, strings.TrimSuffix(strings.ReplaceAll(k.mode, "_", " "), " url")+" value")
		}
	default:
		return nil, onus.Errorf(onus.EINVALID, "source %s: options.pagination %q is not one of link, next_url, cursor, page, none", s.Source, k.mode)
	}
	if k.pageSize, err = s.Int("page_size"); err != nil {
		return nil, err
	}
	if k.firstPage, err = s.Int("first_page"); err != nil {
		return nil, err
	}
	switch {
	case s.Option("token_url") != "":
		id, err := s.Secret("client_id")
		if err != nil {
			return nil, err
		}
		secret, err := s.Secret("client_secret")
		if err != nil {
			return nil, err
		}
		k.c.Auth = &connector.OAuth{Vendor: k.c.Vendor, Source: connector.ClientCredentials(k.c, s.Option("token_url"), id, secret, s.List("scopes"), nil)}
	case s.HasCredential("token"):
		tok, err := s.Secret("token")
		if err != nil {
			return nil, err
		}
		if scheme := s.Option("auth_scheme"); scheme != "none" {
			tok = scheme + " " + tok
		}
		k.c.Auth = &connector.HeaderAuth{Name: s.Option("auth_header"), Value: tok}
	}
	return k, nil
}

func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	if k.csv {
		pg, err := k.fetchCSV(ctx)
		if err != nil {
			return err
		}
		return emit(pg)
	}
	if k.mode == "page" {
		for page := k.firstPage; ; page++ {
			u := connector.WithQuery(k.url, url.Values{k.pageParam: {strconv.Itoa(page)}, k.sizeParam: {strconv.Itoa(k.pageSize)}})
			pg, _, err := k.fetch(ctx, u)
			if err != nil {
				return err
			}
			if err := emit(pg); err != nil {
				return err
			}
			if len(pg.Objects) < k.pageSize {
				return nil
			}
		}
	}
	return connector.Pages(k.url, func(u string) (string, error) {
		pg, next, err := k.fetch(ctx, u)
		if err != nil {
			return "", err
		}
		return next, emit(pg)
	})
}

// fetch gets one page and works out the next URL.
func (k *conn) fetch(ctx context.Context, u string) (connector.Page, string, error) {
	res, err := k.c.Get(ctx, u)
	if err != nil {
		return connector.Page{}, "", err
	}
	pg, err := k.c.Records(res, http.MethodGet, k.records)
	if err != nil {
		return pg, "", err
	}
	next := ""
	switch k.mode {
	case "link":
		next = connector.NextLink(res.Header, u)
	case "next_url":
		if n := connector.String(res.Body, k.nxt); n != "" {
			next = connector.Resolve(u, n)
		}
	case "cursor":
		if cur := connector.String(res.Body, k.nxt); cur != "" && len(pg.Objects) > 0 {
			next = connector.WithQuery(k.url, url.Values{k.cursorParam: {cur}})
		}
	}
	return pg, next, nil
}

// fetchCSV reads a CSV file with a header row and turns each row into a
// JSON object keyed by column name, so that the source's paths are the
// column names, as for a CSV file source.
func (k *conn) fetchCSV(ctx context.Context) (connector.Page, error) {
	k.c.Header.Set("Accept", "text/csv, */*")
	res, err := k.c.Get(ctx, k.url)
	if err != nil {
		return connector.Page{}, err
	}
	pg := connector.Page{Where: http.MethodGet + " " + res.URL, Bytes: len(res.Body)}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(res.Body, []byte("\xef\xbb\xbf"))))
	r.Comma = k.delimiter
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return pg, &connector.Error{Vendor: k.c.Vendor, Method: http.MethodGet, URL: res.URL, Message: "the CSV has no header row: " + err.Error()}
	}
	cols := make([][]byte, len(header))
	for i, h := range header {
		cols[i], _ = json.Marshal(strings.TrimSpace(h))
	}
	for {
		row, err := r.Read()
		if err == io.EOF {
			return pg, nil
		}
		if err != nil {
			// A broken line fails the pull: a CSV cut off halfway is a
			// partial download, not a smaller organisation.
			return pg, &connector.Error{Vendor: k.c.Vendor, Method: http.MethodGet, URL: res.URL, Message: "malformed CSV: " + err.Error()}
		}
		obj := []byte{'{'}
		for i, cell := range row {
			if i > 0 {
				obj = append(obj, ',')
			}
			v, _ := json.Marshal(cell)
			obj = append(append(append(obj, cols[i]...), ':'), v...)
		}
		pg.Objects = append(pg.Objects, append(obj, '}'))
	}
}
