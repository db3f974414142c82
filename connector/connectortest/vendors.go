package connectortest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/buger/jsonparser"
)

// Error bodies in the vendors' own shapes.
const (
	OktaInvalidToken = `{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorLink":"E0000011","errorId":"oaeZ1QJ8pZ7Q","errorCauses":[]}`
	OktaForbidden    = `{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorLink":"E0000006","errorId":"oae3jBkUm2n","errorCauses":[]}`
	OktaRateLimited  = `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorLink":"E0000047","errorId":"oaeKq9pWx","errorCauses":[]}`
	JamfUnauthorized = `{"httpStatus":401,"errors":[{"code":"INVALID_TOKEN","description":"Unauthorized","id":"0","field":null}]}`
	FalconDenied     = `{"meta":{"query_time":1.1e-07,"powered_by":"crowdstrike-api-gateway","trace_id":"6e5a7d1e"},"errors":[{"code":401,"message":"access denied, invalid bearer token"}]}`
	GraphExpired     = `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid.","innerError":{"date":"2026-12-01T10:00:00","request-id":"a1b2"}}}`
	GraphThrottled   = `{"error":{"code":"TooManyRequests","message":"Too many requests. Retry after the time in the Retry-After header.","innerError":{"code":"ActivityLimitReached"}}}`
)

func (s *Server) rateHeaders(w http.ResponseWriter) {
	w.Header().Set("X-Rate-Limit-Limit", "600")
	w.Header().Set("X-Rate-Limit-Remaining", "599")
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(s.now().Add(time.Minute).Unix(), 10))
}

// Okta serves /api/v1/users, /api/v1/users/{id}/factors and
// /api/v1/devices with an SSWS token, Link-header pagination (the after
// cursor is the last record's id, as Okta's is opaque) and X-Rate-Limit-*
// headers. factors maps a user id to the JSON array of their factors.
func (s *Server) Okta(users [][]byte, factors map[string][]byte, devices [][]byte) {
	auth := func(w http.ResponseWriter, r *http.Request) bool {
		s.rateHeaders(w)
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			return s.Bearer(w, r, OktaInvalidToken)
		}
		if r.Header.Get("Authorization") != "SSWS "+s.APIToken {
			JSON(w, 401, OktaInvalidToken)
			return false
		}
		return true
	}
	list := func(get func() [][]byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !auth(w, r) {
				return
			}
			q := r.URL.Query()
			objs := get()
			if search := q.Get("search"); search != "" {
				m := lastUpdatedGT.FindStringSubmatch(search)
				if m == nil {
					JSON(w, 400, `{"errorCode":"E0000031","errorSummary":"Invalid search criteria.","errorCauses":[]}`)
					return
				}
				var kept [][]byte
				for _, o := range objs {
					if lu, _ := jsonparser.GetString(o, "lastUpdated"); lu > m[1] {
						kept = append(kept, o)
					}
				}
				objs = kept
			}
			limit := min(atoi(q.Get("limit"), 200), 200)
			start := 0
			if a := q.Get("after"); a != "" {
				start = -1
				for i, o := range objs {
					if id, _ := jsonparser.GetString(o, "id"); id == a {
						start = i + 1
						break
					}
				}
				if start < 0 {
					JSON(w, 400, `{"errorCode":"E0000031","errorSummary":"Invalid search criteria.","errorCauses":[]}`)
					return
				}
			}
			page := window(objs, start, limit)
			self := *r.URL
			self.Scheme, self.Host = "http", r.Host
			w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="self"`, self.String()))
			if start+len(page) < len(objs) && len(page) > 0 {
				last, _ := jsonparser.GetString(page[len(page)-1], "id")
				nq := url.Values{"limit": {strconv.Itoa(limit)}, "after": {last}}
				for k, v := range q {
					if k != "after" && k != "limit" {
						nq[k] = v
					}
				}
				next := self
				next.RawQuery = nq.Encode()
				w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="next"`, next.String()))
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(Array(page))
		}
	}
	s.mu.Lock()
	s.oktaUsers = users
	s.mu.Unlock()
	getUsers := func() [][]byte {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.oktaUsers
	}
	s.Mux.HandleFunc("GET /api/v1/users", list(getUsers))
	s.Mux.HandleFunc("GET /api/v1/devices", list(func() [][]byte { return devices }))
	s.Mux.HandleFunc("GET /api/v1/users/{id}/factors", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		f, ok := factors[r.PathValue("id")]
		if !ok {
			f = []byte("[]")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(f)
	})
}

// lastUpdatedGT is the one Okta search expression the server understands.
var lastUpdatedGT = regexp.MustCompile(`lastUpdated gt "([^"]+)"`)

// SetOktaUsers replaces the users Okta serves (a user changed or deleted
// between two syncs).
func (s *Server) SetOktaUsers(users [][]byte) {
	s.mu.Lock()
	s.oktaUsers = users
	s.mu.Unlock()
}

// Jamf serves Jamf Pro's /api/oauth/token and /api/v1/computers-inventory
// with page and page-size.
func (s *Server) Jamf(computers [][]byte) {
	s.Mux.HandleFunc("POST /api/oauth/token", s.Token)
	s.Mux.HandleFunc("GET /api/v1/computers-inventory", func(w http.ResponseWriter, r *http.Request) {
		if !s.Bearer(w, r, JamfUnauthorized) {
			return
		}
		q := r.URL.Query()
		if len(q["section"]) == 0 {
			JSON(w, 400, `{"httpStatus":400,"errors":[{"code":"INVALID_FIELD","description":"section is required by this test server","id":"0","field":"section"}]}`)
			return
		}
		size := atoi(q.Get("page-size"), 100)
		if size > 2000 {
			JSON(w, 400, `{"httpStatus":400,"errors":[{"code":"INVALID_FIELD","description":"page-size must be at most 2000","id":"0","field":"page-size"}]}`)
			return
		}
		page := window(computers, atoi(q.Get("page"), 0)*size, size)
		body := append([]byte(fmt.Sprintf(`{"totalCount":%d,"results":`, len(computers))), Array(page)...)
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(body, '}'))
	})
}

// Falcon serves CrowdStrike's /oauth2/token, the devices-scroll id query
// (an opaque offset) and POST /devices/entities/devices/v2.
func (s *Server) Falcon(devices [][]byte) {
	byID := map[string][]byte{}
	var ids []string
	for _, d := range devices {
		id, _ := jsonparser.GetString(d, "device_id")
		byID[id] = d
		ids = append(ids, id)
	}
	s.Mux.HandleFunc("POST /oauth2/token", s.Token)
	s.Mux.HandleFunc("GET /devices/queries/devices-scroll/v1", func(w http.ResponseWriter, r *http.Request) {
		if !s.Bearer(w, r, FalconDenied) {
			return
		}
		q := r.URL.Query()
		limit := min(atoi(q.Get("limit"), 100), 5000)
		start := 0
		if o := q.Get("offset"); o != "" {
			start = atoi(strings.TrimPrefix(o, "scroll-"), 0)
		}
		page := ids[min(start, len(ids)):min(start+limit, len(ids))]
		next := ""
		if start+len(page) < len(ids) {
			next = fmt.Sprintf("scroll-%d", start+len(page))
		}
		var b strings.Builder
		fmt.Fprintf(&b, `{"meta":{"query_time":0.004,"pagination":{"total":%d,"offset":%q,"expires_at":%d},"powered_by":"device-api","trace_id":"t"},"resources":[`, len(ids), next, s.now().Add(2*time.Minute).UnixNano())
		for i, id := range page {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q", id)
		}
		b.WriteString(`],"errors":[]}`)
		JSON(w, 200, b.String())
	})
	s.Mux.HandleFunc("POST /devices/entities/devices/v2", func(w http.ResponseWriter, r *http.Request) {
		if !s.Bearer(w, r, FalconDenied) {
			return
		}
		var want struct{ IDs []string }
		buf, err := io.ReadAll(r.Body)
		if err != nil {
			JSON(w, 400, `{"errors":[{"code":400,"message":"cannot read body"}]}`)
			return
		}
		_, _ = jsonparser.ArrayEach(buf, func(v []byte, _ jsonparser.ValueType, _ int, _ error) {
			want.IDs = append(want.IDs, string(v))
		}, "ids")
		if len(want.IDs) > 5000 {
			JSON(w, 400, `{"errors":[{"code":400,"message":"too many ids: at most 5000"}],"resources":[]}`)
			return
		}
		var objs [][]byte
		for _, id := range want.IDs {
			if d, ok := byID[id]; ok {
				objs = append(objs, d)
			}
		}
		body := append([]byte(`{"meta":{"query_time":0.01,"powered_by":"device-api","trace_id":"t"},"errors":[],"resources":`), Array(objs)...)
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(body, '}'))
	})
}

// Graph serves Entra ID's token endpoint for any tenant and Microsoft
// Graph's managedDevices, pageSize at a time with @odata.nextLink.
func (s *Server) Graph(devices [][]byte, pageSize int) {
	s.Mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.Token)
	s.Mux.HandleFunc("GET /v1.0/deviceManagement/managedDevices", func(w http.ResponseWriter, r *http.Request) {
		if !s.Bearer(w, r, GraphExpired) {
			return
		}
		q := r.URL.Query()
		size := pageSize
		if t := atoi(q.Get("$top"), 0); t > 0 {
			size = min(t, size)
		}
		start := atoi(q.Get("$skiptoken"), 0)
		page := window(devices, start, size)
		body := []byte(`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#deviceManagement/managedDevices",`)
		if start+len(page) < len(devices) {
			nq := url.Values{"$skiptoken": {strconv.Itoa(start + len(page))}}
			if size != pageSize {
				nq.Set("$top", strconv.Itoa(size))
			}
			body = append(body, fmt.Sprintf(`"@odata.nextLink":%q,`, s.URL+r.URL.Path+"?"+nq.Encode())...)
		}
		body = append(append([]byte(body), `"value":`...), Array(page)...)
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(body, '}'))
	})
}
