// Package crowdstrike reads CrowdStrike Falcon hosts: the device ids from
// the devices-scroll query, then the devices' details in batches, with an
// OAuth 2.0 API client in the customer's cloud region.
package crowdstrike

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/connector"
)

// Clouds are the Falcon API base URLs by region.
var Clouds = map[string]string{
	"us-1":     "https://api.crowdstrike.com",
	"us-2":     "https://api.us-2.crowdstrike.com",
	"eu-1":     "https://api.eu-1.crowdstrike.com",
	"us-gov-1": "https://api.laggar.gcw.crowdstrike.com",
	"us-gov-2": "https://api.us-gov-2.crowdstrike.mil",
}

func init() {
	var clouds []string
	for c := range Clouds {
		clouds = append(clouds, c)
	}
	sort.Strings(clouds)
	connector.Register(&connector.Spec{
		Name:  "crowdstrike",
		Title: "CrowdStrike Falcon",
		Doc:   "docs/connectors/crowdstrike.md",
		Options: []connector.Option{
			{Name: "cloud", Help: "the Falcon cloud of your tenant: " + strings.Join(clouds, ", "), Default: "us-1"},
			{Name: "base_url", Help: "the API base URL, instead of cloud (a proxy)"},
			{Name: "filter", Help: "FQL filter of the hosts to read (platform_name:'Mac'); all hosts when empty"},
			{Name: "limit", Help: "device ids per scroll page (up to 5000)", Default: "5000"},
			{Name: "batch", Help: "devices per details request (up to 5000)", Default: "1000"},
		},
		Credentials: []connector.Option{
			{Name: "client_id", Help: "API client id", Required: true},
			{Name: "client_secret", Help: "API client secret", Required: true},
		},
		Open: open,
	})
}

type conn struct {
	c            *connector.Client
	base, filter string
	limit, batch int
}

func open(s *connector.Settings) (connector.Connector, error) {
	base := ""
	if s.Option("base_url") != "" {
		var err error
		if base, err = s.URL("base_url"); err != nil {
			return nil, err
		}
	} else if base = Clouds[s.Option("cloud")]; base == "" {
		return nil, onus.Errorf(onus.EINVALID, "source %s: options.cloud %q is not a Falcon cloud (%s)", s.Source, s.Option("cloud"), strings.Join(keys(Clouds), ", "))
	}
	k := &conn{c: s.Client, base: base, filter: s.Option("filter")}
	var err error
	if k.limit, err = s.Int("limit"); err != nil {
		return nil, err
	}
	if k.batch, err = s.Int("batch"); err != nil {
		return nil, err
	}
	k.limit, k.batch = min(max(k.limit, 1), 5000), min(max(k.batch, 1), 5000)
	id, err := s.Secret("client_id")
	if err != nil {
		return nil, err
	}
	secret, err := s.Secret("client_secret")
	if err != nil {
		return nil, err
	}
	k.c.Auth = &connector.OAuth{Vendor: k.c.Vendor, Source: connector.ClientCredentials(k.c, base+"/oauth2/token", id, secret, nil, nil)}
	return k, nil
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (k *conn) scroll(offset string, limit int) string {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if k.filter != "" {
		q.Set("filter", k.filter)
	}
	if offset != "" {
		q.Set("offset", offset)
	}
	return k.base + "/devices/queries/devices-scroll/v1?" + q.Encode()
}

// ids reads one scroll page: its device ids and the offset of the next.
func (k *conn) ids(ctx context.Context, u string) ([]string, string, int64, error) {
	res, err := k.c.Get(ctx, u)
	if err != nil {
		return nil, "", 0, err
	}
	if !json.Valid(res.Body) {
		_, err := k.c.Records(res, http.MethodGet, "resources") // names the damage
		return nil, "", 0, err
	}
	var ids []string
	_, _ = jsonparser.ArrayEach(res.Body, func(v []byte, t jsonparser.ValueType, _ int, _ error) {
		if t == jsonparser.String {
			ids = append(ids, string(v))
		}
	}, "resources")
	total, _ := connector.Int(res.Body, "meta.pagination.total")
	return ids, connector.String(res.Body, "meta.pagination.offset"), total, nil
}

// details reads the devices of a batch of ids.
func (k *conn) details(ctx context.Context, ids []string) (connector.Page, error) {
	body, _ := json.Marshal(map[string][]string{"ids": ids})
	u := k.base + "/devices/entities/devices/v2"
	res, err := k.c.Do(ctx, http.MethodPost, u, body, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return connector.Page{}, err
	}
	return k.c.Records(res, http.MethodPost, "resources")
}

// Check reads one device id and that device's details: the API client
// needs the Hosts: Read scope for both.
func (k *conn) Check(ctx context.Context) (connector.Page, error) {
	ids, _, _, err := k.ids(ctx, k.scroll("", 1))
	if err != nil || len(ids) == 0 {
		return connector.Page{Where: "GET " + k.scroll("", 1)}, err
	}
	return k.details(ctx, ids)
}

// Pull scrolls through every device id and reads the details a batch at a
// time.
func (k *conn) Pull(ctx context.Context, emit func(connector.Page) error) error {
	var pending []string
	flush := func(all bool) error {
		for len(pending) >= k.batch || all && len(pending) > 0 {
			n := min(k.batch, len(pending))
			pg, err := k.details(ctx, pending[:n])
			if err != nil {
				return err
			}
			pending = pending[n:]
			if err := emit(pg); err != nil {
				return err
			}
		}
		return nil
	}
	offset, read := "", 0
	for {
		ids, next, total, err := k.ids(ctx, k.scroll(offset, k.limit))
		if err != nil {
			return err
		}
		read += len(ids)
		pending = append(pending, ids...)
		if err := flush(false); err != nil {
			return err
		}
		if len(ids) == 0 || next == "" || next == offset || total > 0 && int64(read) >= total {
			return flush(true)
		}
		offset = next
	}
}
