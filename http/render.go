package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
)

// page is what every template receives.
type page struct {
	Title   string
	Nav     string
	Subject *authz.Subject
	CSRF    string
	Demo    bool
	Flash   string
	Now     time.Time
	Query   url.Values
	Data    any
}

// flashes are the messages a redirect after a change may show; the query
// names one, so nothing a visitor types is echoed back.
var flashes = map[string]string{
	"claimed":   "Thank you: your fix is recorded. The finding shows \"fix claimed\" until the next sync confirms it.",
	"requested": "Your exception request is waiting for the Accountable person's decision.",
	"approved":  "Exception approved: the finding is exempted until the exception expires.",
	"rejected":  "Exception rejected; the requester sees your note.",
	"resent":    "The message is queued again.",
	"confirmed": "The message is recorded as delivered.",
	"accepted":  "The source was synced accepting its drop in records, and the controls evaluated again.",
	"token":     "Token created. Copy it now: onus shows it only once.",
	"revoked":   "Token revoked.",
	"signedout": "You are signed out.",
	"xrevoked":  "Exception revoked: its finding is open again.",
	"extended":  "Your request to extend the exception is waiting for the Accountable person's decision.",
	"ended":     "Session ended.",
	"linked":    "Linked: one thing from the next evaluation.",
	"unlinked":  "Unlinked: never merged from the next evaluation.",
	"forgot":    "Decision forgotten: the keys alone decide from the next evaluation.",
}

func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"inzone": func(t time.Time, tz string) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(location(tz)).Format("Mon 2 Jan 2006, 15:04 MST")
		},
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02")
		},
		"datetime": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"ago": func(now, t time.Time) string {
			d := now.Sub(t)
			switch {
			case d < 0:
				return "in " + human(-d)
			default:
				return human(d) + " ago"
			}
		},
		"join":  strings.Join,
		"lower": strings.ToLower,
		"add":   func(a, b int) int { return a + b },
		"sub":   func(a, b int) int { return a - b },
		"mul":   func(a, b int) int { return a * b },
		"div": func(a, b int) int {
			if b == 0 {
				return 0
			}
			return a / b
		},
		"fmtf":  func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"flash": func(k string) string { return flashes[k] },
		"qs": func(q url.Values, kv ...string) string {
			n := url.Values{}
			for k, v := range q {
				n[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == "" {
					n.Del(kv[i])
				} else {
					n.Set(kv[i], kv[i+1])
				}
			}
			return n.Encode()
		},
		"deref": func(p *time.Time) time.Time {
			if p == nil {
				return time.Time{}
			}
			return *p
		},
	}
}

func human(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// parseTemplates parses every page with the layout, at start-up.
func (s *Server) parseTemplates() error {
	s.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(s.funcs()).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("http: template %s: %w", n, err)
		}
		s.pages[base] = t
	}
	return nil
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// render writes a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	p := page{Title: title, Nav: nav, Subject: authz.FromContext(r.Context()), Demo: s.Options.DemoSignIn,
		Flash: r.URL.Query().Get("done"), Now: s.Authz.Now(), Query: r.URL.Query(), Data: data}
	if se := sessionOf(r); se != nil {
		p.CSRF = se.CSRF
	} else if c, err := r.Cookie(s.csrfCookieName()); err == nil {
		p.CSRF = c.Value
	}
	t := s.pages[name]
	if t == nil {
		s.fail(w, r, fmt.Errorf("http: no template %s", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.Log.Error("template", "page", name, "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// respond writes a page, or its data as JSON under /api.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, name, title, nav string, data any) {
	if isAPI(r) {
		writeJSON(w, http.StatusOK, emptyLists(data))
		return
	}
	s.render(w, r, http.StatusOK, name, title, nav, data)
}

// emptyLists gives an API answer's lists as [] when they are empty: a
// client iterates "messages": [] but must special-case null.
func emptyLists(data any) any {
	m, ok := data.(map[string]any)
	if !ok {
		return data
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
			v = reflect.MakeSlice(rv.Type(), 0, 0).Interface()
		}
		out[k] = v
	}
	return out
}

// done answers a change: JSON under /api, else a redirect (303) to a page
// that shows a fixed message.
func (s *Server) done(w http.ResponseWriter, r *http.Request, to, flash string, data any) {
	if isAPI(r) {
		writeJSON(w, http.StatusOK, data)
		return
	}
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	http.Redirect(w, r, to+sep+"done="+flash, http.StatusSeeOther)
}

func statusOf(err error) int {
	switch onus.ErrorCode(err) {
	case onus.EINVALID:
		return http.StatusBadRequest
	case onus.ENOTFOUND:
		return http.StatusNotFound
	case onus.ECONFLICT:
		return http.StatusConflict
	case onus.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case onus.EFORBIDDEN:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// fail answers an error: its user-safe message, never an internal one.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := onus.ErrorMessage(err)
	id, _ := r.Context().Value(keyRequestID).(string)
	if status == http.StatusInternalServerError {
		s.Log.Error("request failed", logRequestID, id, "error", err.Error())
		msg = "internal error; the request id is " + id
	}
	if isAPI(r) || r.URL.Path == "/metrics" || strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		writeJSON(w, status, map[string]any{"error": map[string]string{"code": onus.ErrorCode(err), "message": msg}})
		return
	}
	if status == http.StatusUnauthorized && r.Method == http.MethodGet {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	s.render(w, r, status, "error", http.StatusText(status), "", msg)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.PathValue("id"), "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, onus.Errorf(onus.EINVALID, "%q is not an id", r.PathValue("id"))
	}
	return id, nil
}

// idBody reads a change of one record: the id in its path, then the
// fields of its body (see body), each "" when absent.
func idBody(r *http.Request, fields ...string) (int64, map[string]string, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	in := make(map[string]string, len(fields))
	for _, f := range fields {
		in[f] = ""
	}
	return id, in, body(r, in)
}

// body reads a change's input: a form, or JSON under /api.
func body(r *http.Request, v map[string]string) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		r.Body = http.MaxBytesReader(nil, r.Body, 1<<16)
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return onus.Errorf(onus.EINVALID, "the body is not a JSON object: %v", err)
		}
		for k := range v {
			if x, ok := m[k]; ok {
				v[k] = fmt.Sprint(x)
			}
		}
		return nil
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		return onus.Errorf(onus.EINVALID, "cannot read the form: %v", err)
	}
	for k := range v {
		v[k] = r.PostFormValue(k)
	}
	return nil
}

// locations caches time zones: time.LoadLocation reads the zone database
// at every call.
var locations sync.Map

func location(tz string) *time.Location {
	if tz == "" {
		return time.UTC
	}
	if l, ok := locations.Load(tz); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(tz)
	if err != nil {
		l = time.UTC
	}
	locations.Store(tz, l)
	return l
}
