package authz

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/raci"
	"github.com/onus-sec/onus/store"
	"github.com/onus-sec/onus/whois"
)

// Item is a finding with what its reader needs: the fix steps, the fix
// claim and the last message about it.
type Item struct {
	onus.Finding
	Overdue bool         `json:"overdue"`
	Fix     string       `json:"fix,omitempty"`
	Why     string       `json:"why,omitempty"`
	Claim   *store.Claim `json:"claim,omitempty"`
	Told    *store.Sent  `json:"last_told,omitempty"`
}

// fix returns the parsed fix steps of a control, parsed once.
func (s *Service) fix(ctl *config.Control) evaluate.Fix {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fixes == nil {
		s.fixes = map[string]evaluate.Fix{}
	}
	f, ok := s.fixes[ctl.ID]
	if !ok {
		f = evaluate.ParseFix(ctl.Fix)
		s.fixes[ctl.ID] = f
	}
	return f
}

func (s *Service) items(ctx context.Context, fs []onus.Finding, told bool) ([]Item, error) {
	return s.itemsWith(ctx, fs, told, true)
}

func (s *Service) itemsWith(ctx context.Context, fs []onus.Finding, told, fix bool) ([]Item, error) {
	claims, err := s.Store.Claims(ctx, fs)
	if err != nil {
		return nil, err
	}
	var last map[int64]store.Sent
	if told {
		if last, err = s.Store.LastTold(ctx, fs); err != nil {
			return nil, err
		}
	}
	now := s.Now()
	out := make([]Item, len(fs))
	for i, f := range fs {
		it := Item{Finding: f, Overdue: f.Overdue(now)}
		if ctl := s.Config.Control(f.Control); ctl != nil {
			it.Why = ctl.Why
			if it.Why == "" {
				it.Why = ctl.Title
			}
			if fix && ctl.Fix != "" {
				it.Fix = s.fix(ctl).Render(map[string]any{"Entity": map[string]string{"Name": f.EntityName, "ID": f.Entity}, "Finding": f})
			}
		}
		if c, ok := claims[f.ID]; ok {
			it.Claim = &c
		}
		if m, ok := last[f.ID]; ok {
			it.Told = &m
		}
		out[i] = it
	}
	return out, nil
}

// Me is the personal page.
type Me struct {
	Profile *whois.Profile `json:"profile"`
	// Items are the open and exempted findings, soonest due first.
	Items []Item `json:"items"`
}

// Me returns the signed-in person's page.
func (s *Service) Me(ctx context.Context) (*Me, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	if !sub.Person {
		return &Me{Profile: &whois.Profile{}}, nil
	}
	w, _, err := s.directory(ctx)
	if err != nil {
		return nil, err
	}
	p, err := w.Lookup(ctx, sub.Email, s.Now())
	if err != nil {
		return nil, err
	}
	fs := make([]onus.Finding, len(p.Open))
	for i, it := range p.Open {
		fs[i] = it.Finding
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if (fs[i].State == onus.StateOpen) != (fs[j].State == onus.StateOpen) {
			return fs[i].State == onus.StateOpen
		}
		return fs[i].Due.Before(fs[j].Due)
	})
	items, err := s.items(ctx, fs, true)
	if err != nil {
		return nil, err
	}
	return &Me{Profile: p, Items: items}, nil
}

// Findings returns the page of findings q selects among those the subject
// may see.
func (s *Service) Findings(ctx context.Context, q store.FindingQuery) ([]Item, *store.Page, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, nil, err
	}
	q.Visibility = sub.Visibility()
	p, err := s.Store.FindingsPage(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	items, err := s.items(ctx, p.Findings, false)
	return items, p, err
}

// FindingDetail is one finding with everything about it.
type FindingDetail struct {
	Item
	Events     []onus.Event      `json:"history"`
	Messages   []store.Sent      `json:"messages"`
	Exceptions []*onus.Exception `json:"exceptions"`
	// Built explains the entity: its kind, id and name as correlated.
	ControlDef *config.Control `json:"-"`
	// What the subject may do with it.
	CanClaim   bool `json:"can_claim"`
	CanRequest bool `json:"can_request_exception"`
	// ExceptionMax is the longest exception its severity allows.
	ExceptionMax time.Time `json:"exception_max"`
}

// Finding returns a finding the subject may see, or not-found.
func (s *Service) Finding(ctx context.Context, id int64) (*FindingDetail, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.Store.VisibleFinding(ctx, sub.Visibility(), id)
	if err != nil {
		return nil, err
	}
	items, err := s.items(ctx, []onus.Finding{f}, false)
	if err != nil {
		return nil, err
	}
	d := &FindingDetail{Item: items[0], ControlDef: s.Config.Control(f.Control)}
	if d.Events, err = s.Store.Events(ctx, id); err != nil {
		return nil, err
	}
	if d.Messages, err = s.Store.MessagesAbout(ctx, id); err != nil {
		return nil, err
	}
	if d.Exceptions, err = s.Store.Exceptions(ctx, onus.ExceptionFilter{Finding: id}); err != nil {
		return nil, err
	}
	pending := slices.ContainsFunc(d.Exceptions, func(x *onus.Exception) bool { return x.State == onus.ExceptionRequested })
	d.CanClaim = sub.CanWrite() && f.State == onus.StateOpen && f.Responsible.Email == sub.Email && (d.Claim == nil || d.Claim.Status != "pending")
	d.CanRequest = sub.CanWrite() && f.State == onus.StateOpen && !pending && s.mayRequest(ctx, sub, f)
	d.ExceptionMax = s.Now().Add(s.Config.ExceptionMax(f.Severity))
	return d, nil
}

// mayRequest: the Responsible person, or a manager above them.
func (s *Service) mayRequest(ctx context.Context, sub *Subject, f onus.Finding) bool {
	if !sub.Person {
		return false
	}
	if f.Responsible.Email == sub.Email {
		return true
	}
	ok, err := s.Store.IsBelow(ctx, f.Responsible.Email, sub.Email)
	return err == nil && ok
}

// ClaimFix records the Responsible person's claim that a finding is fixed.
func (s *Service) ClaimFix(ctx context.Context, id int64, note string) error {
	sub, err := writer(ctx)
	if err != nil {
		return err
	}
	f, err := s.Store.VisibleFinding(ctx, sub.Visibility(), id)
	if err != nil {
		return err
	}
	if f.Responsible.Email != sub.Email {
		return forbidden("only %s, who is Responsible for finding %d, can say it is fixed", f.Responsible.Email, id)
	}
	defer s.changed()
	return s.Store.ClaimFix(ctx, id, sub.Email, strings.TrimSpace(note))
}

// RequestException asks for an exception for a finding the subject is
// Responsible for (or manages the Responsible person of).
func (s *Service) RequestException(ctx context.Context, id int64, reason string, expires time.Time) (*onus.Exception, error) {
	sub, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.Store.VisibleFinding(ctx, sub.Visibility(), id)
	if err != nil {
		return nil, err
	}
	if !s.mayRequest(ctx, sub, f) {
		return nil, forbidden("only the Responsible person of finding %d or their manager can ask for an exception", id)
	}
	defer s.changed()
	return s.exceptions().Request(ctx, exceptionRequest(id, reason, expires, sub.Email))
}

// Approval is an exception waiting for the subject's decision.
type Approval struct {
	Exception *onus.Exception `json:"exception"`
	Finding   *onus.Finding   `json:"finding,omitempty"`
}

// Approvals lists the requested exceptions the subject may decide: never
// their own.
func (s *Service) Approvals(ctx context.Context) ([]Approval, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	pending, err := s.Store.Exceptions(ctx, onus.ExceptionFilter{States: []onus.ExceptionState{onus.ExceptionRequested}})
	if err != nil {
		return nil, err
	}
	var out []Approval
	svc := s.exceptions()
	for _, x := range pending {
		if !sub.Person || svc.MayDecide(ctx, x, sub.Email) != nil {
			continue
		}
		a := Approval{Exception: x}
		if x.Finding != 0 {
			if f, err := s.Store.Finding(ctx, x.Finding); err == nil {
				a.Finding = &f
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// Decide approves or rejects an exception the subject may decide.
func (s *Service) Decide(ctx context.Context, id int64, approve bool, note string) (*onus.Exception, error) {
	sub, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if !sub.Person {
		return nil, forbidden("exceptions are decided by a person of the directory: the Accountable one")
	}
	defer s.changed()
	svc := s.exceptions()
	x, err := s.visibleException(ctx, sub, id)
	if err != nil {
		return nil, err
	}
	if err := svc.MayDecide(ctx, x, sub.Email); err != nil {
		return nil, forbidden("%s", onus.ErrorMessage(err))
	}
	if approve {
		return svc.Approve(ctx, id, sub.Email, note)
	}
	return svc.Reject(ctx, id, sub.Email, note)
}

// ExceptionDetail is an exception with its history.
type ExceptionDetail struct {
	Exception *onus.Exception       `json:"exception"`
	Events    []onus.ExceptionEvent `json:"history"`
	MayDecide bool                  `json:"may_decide"`
}

// Exception returns an exception the subject may see: their own request,
// one about a finding they see, one waiting for their decision.
func (s *Service) Exception(ctx context.Context, id int64) (*ExceptionDetail, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	x, err := s.visibleException(ctx, sub, id)
	if err != nil {
		return nil, err
	}
	d := &ExceptionDetail{Exception: x}
	if d.Events, err = s.Store.ExceptionEvents(ctx, id); err != nil {
		return nil, err
	}
	d.MayDecide = sub.CanWrite() && sub.Person && x.State == onus.ExceptionRequested && s.exceptions().MayDecide(ctx, x, sub.Email) == nil
	return d, nil
}

func (s *Service) visibleException(ctx context.Context, sub *Subject, id int64) (*onus.Exception, error) {
	x, err := s.Store.Exception(ctx, id)
	if err != nil {
		return nil, err
	}
	if sub.SeesAll() || (sub.Person && x.Requester == sub.Email) {
		return x, nil
	}
	if x.Finding != 0 {
		if _, err := s.Store.VisibleFinding(ctx, sub.Visibility(), x.Finding); err == nil {
			return x, nil
		}
	}
	if sub.Person && s.exceptions().MayDecide(ctx, x, sub.Email) == nil {
		return x, nil
	}
	return nil, onus.Errorf(onus.ENOTFOUND, "no exception %d", id)
}

// Member is one person of a manager's team with their open items.
type Member struct {
	Person  *raci.Person `json:"person"`
	Items   []Item       `json:"items"`
	Overdue int          `json:"overdue"`
}

// TeamPageSize is how many people a page of the team view details.
const TeamPageSize = 20

// Team is the team view: everyone below the subject in the management
// chain who has open or exempted items, most overdue first, with counts
// from the summaries; the open items of one page of them in detail.
type Team struct {
	People []store.PersonCount `json:"people"`
	// Members are the people of the page, with their open items, in the
	// order of People.
	Members []Member `json:"members"`
	Open    int      `json:"total_open"`
	Overdue int      `json:"total_overdue"`
	Page    int      `json:"page"`
	Pages   int      `json:"pages"`
}

// Team returns page (from 1) of the team view; with person, the page is
// that one person, who must be below the subject.
func (s *Service) Team(ctx context.Context, page int, person string) (*Team, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	t := &Team{Page: 1, Pages: 1}
	if !sub.Person {
		return t, nil
	}
	counts, err := s.Store.TeamCounts(ctx, sub.Email, s.Now())
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		t.Open += c.Open
		t.Overdue += c.Overdue
	}
	t.Pages = max(1, (len(counts)+TeamPageSize-1)/TeamPageSize)
	var shown []store.PersonCount
	if person != "" {
		// Only someone in the chain: the counts list nobody else.
		for _, c := range counts {
			if strings.EqualFold(c.Email, person) {
				shown = append(shown, c)
			}
		}
		if len(shown) == 0 {
			return nil, onus.Errorf(onus.ENOTFOUND, "%s has no open items below you", person)
		}
	} else {
		t.Page = min(max(page, 1), t.Pages)
		lo := (t.Page - 1) * TeamPageSize
		shown = counts[min(lo, len(counts)):min(lo+TeamPageSize, len(counts))]
	}
	t.People = counts
	if person == "" {
		t.People = shown
	}
	var owners []string
	for _, c := range shown {
		if c.Open > 0 {
			owners = append(owners, c.Email)
		}
	}
	if len(owners) == 0 {
		for _, c := range shown {
			t.Members = append(t.Members, Member{Person: &raci.Person{Email: c.Email, Name: c.Name, Team: c.Team}})
		}
		return t, nil
	}
	// The items of the page's people, still restricted to the subject's
	// chain (Under: their own findings are all visible to them, so the
	// query need not test the Accountable side too).
	p, err := s.Store.FindingsPage(ctx, store.FindingQuery{Visibility: sub.Visibility(), Under: sub.Email, Owners: owners,
		States: []onus.State{onus.StateOpen}})
	if err != nil {
		return nil, err
	}
	items, err := s.itemsWith(ctx, p.Findings, true, false)
	if err != nil {
		return nil, err
	}
	by := map[string]*Member{}
	for _, c := range shown {
		m := &Member{Person: &raci.Person{Email: c.Email, Name: c.Name, Team: c.Team}}
		by[c.Email] = m
	}
	for _, it := range items {
		m := by[it.Responsible.Email]
		if m == nil {
			continue
		}
		m.Items = append(m.Items, it)
		if it.Overdue {
			m.Overdue++
		}
	}
	for _, c := range shown {
		m := by[c.Email]
		// Overdue first, then soonest due (the query's order).
		sort.SliceStable(m.Items, func(i, j int) bool { return m.Items[i].Overdue && !m.Items[j].Overdue })
		t.Members = append(t.Members, *m)
	}
	return t, nil
}

// Dashboard returns the trends of the findings the subject may see.
func (s *Service) Dashboard(ctx context.Context, weeks int) (*store.Dashboard, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.directory(ctx); err != nil {
		return nil, err
	}
	v := sub.Visibility()
	now := s.Now()
	key := fmt.Sprintf("%v|%s|%d|%s", v.All, v.Email, weeks, now.Format("2006-01-02T15"))
	s.mu.Lock()
	d, gen := s.dashboards[key], s.gen
	if d != nil {
		s.mu.Unlock()
		return d, nil
	}
	// One computation per dashboard at a time: the people who ask for it
	// meanwhile wait for that one rather than each start their own.
	if s.computing == nil {
		s.computing = map[string]chan struct{}{}
	}
	if wait, ok := s.computing[key]; ok {
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
		d = s.dashboards[key]
		s.mu.Unlock()
		if d != nil {
			return d, nil
		}
		return s.dashboardOf(ctx, v, now, weeks)
	}
	done := make(chan struct{})
	s.computing[key] = done
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.computing, key)
		s.mu.Unlock()
		close(done)
	}()
	d, err = s.dashboardOf(ctx, v, now, weeks)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen && s.dashboards != nil {
		if len(s.dashboards) > 10000 {
			s.dashboards = map[string]*store.Dashboard{}
		}
		s.dashboards[key] = d
	}
	s.mu.Unlock()
	return d, nil
}

// dashboardOf computes a dashboard: everyone's from the summaries the
// evaluation keeps, a person's from the findings they may see.
func (s *Service) dashboardOf(ctx context.Context, v store.Visibility, now time.Time, weeks int) (*store.Dashboard, error) {
	if v.All {
		return s.Store.SummaryDashboard(ctx, now, weeks)
	}
	return s.Store.DashboardOf(ctx, v, now, weeks)
}

// Forget drops what was computed from the data (dashboards): call it
// after changing the store other than through this service. The cache is
// also dropped when a new evaluation is seen.
func (s *Service) Forget() { s.changed() }

// changed forgets what was computed from the data before a change.
func (s *Service) changed() {
	s.mu.Lock()
	s.gen++
	s.dashboards = map[string]*store.Dashboard{}
	s.mu.Unlock()
}

// Matrix returns the responsibility matrix and its problems.
func (s *Service) Matrix(ctx context.Context) (*raci.Matrix, []raci.Problem, error) {
	if _, err := subject(ctx); err != nil {
		return nil, nil, err
	}
	_, m, err := s.directory(ctx)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return m, s.problems, nil
}

// Control is a control with its last evaluation's counts.
type Control struct {
	*config.Control
	Stat onus.ControlStat `json:"stat"`
}

// Controls lists the controls.
func (s *Service) Controls(ctx context.Context) ([]Control, error) {
	if _, err := subject(ctx); err != nil {
		return nil, err
	}
	stats, err := s.Store.LastControlStats(ctx)
	if err != nil {
		return nil, err
	}
	by := map[string]onus.ControlStat{}
	for _, st := range stats {
		by[st.Control] = st
	}
	var out []Control
	for _, c := range s.Config.Controls {
		out = append(out, Control{Control: c, Stat: by[c.ID]})
	}
	return out, nil
}

func (s *Service) staff(ctx context.Context) (*Subject, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	if !sub.SeesAll() {
		return nil, forbidden("only security administrators and auditors see this page")
	}
	return sub, nil
}

func (s *Service) admin(ctx context.Context) (*Subject, error) {
	sub, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if !sub.Admin {
		return nil, forbidden("only security administrators may do this")
	}
	return sub, nil
}

// Sources returns the health of every source.
func (s *Service) Sources(ctx context.Context) ([]*onus.SourceState, error) {
	if _, err := s.staff(ctx); err != nil {
		return nil, err
	}
	m, err := s.Store.SourceStates(ctx)
	if err != nil {
		return nil, err
	}
	var out []*onus.SourceState
	for _, src := range s.Config.Sources {
		st := m[src.Name]
		if st == nil {
			st = &onus.SourceState{Source: src.Name, Reason: "never synced"}
		}
		out = append(out, st)
	}
	return out, nil
}

// AcceptShrink checks that the subject may accept a source's drop in
// records; the caller then runs the sync. It returns the actor to record.
func (s *Service) AcceptShrink(ctx context.Context, source string) (string, error) {
	sub, err := s.admin(ctx)
	if err != nil {
		return "", err
	}
	for _, src := range s.Config.Sources {
		if src.Name == source {
			return sub.Email, nil
		}
	}
	return "", onus.Errorf(onus.ENOTFOUND, "no source %s", source)
}

// Outbox lists messages: all of them for administrators and auditors,
// one's own otherwise.
func (s *Service) Outbox(ctx context.Context, statuses []string, limit int) ([]*onus.OutboxMessage, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	if !sub.SeesAll() && !sub.Person {
		return nil, nil
	}
	return s.Store.VisibleOutbox(ctx, sub.Visibility(), statuses, limit)
}

// OutboxMessage returns a message the subject may see.
func (s *Service) OutboxMessage(ctx context.Context, id int64) (*onus.OutboxMessage, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.Store.OutboxMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	if !sub.SeesAll() && (!sub.Person || m.Recipient != sub.Email) {
		return nil, onus.Errorf(onus.ENOTFOUND, "no outbox message %d", id)
	}
	return m, nil
}

// Resend requeues an uncertain or failed message (administrators).
func (s *Service) Resend(ctx context.Context, id int64) error {
	sub, err := s.admin(ctx)
	if err != nil {
		return err
	}
	return s.Store.Resend(ctx, id, sub.Email)
}

// Confirm records an uncertain message as arrived (administrators).
func (s *Service) Confirm(ctx context.Context, id int64) error {
	sub, err := s.admin(ctx)
	if err != nil {
		return err
	}
	return s.Store.Confirm(ctx, id, sub.Email)
}

// AuditLog returns the newest entries (administrators and auditors).
// ExceptionsExport returns every exception in every state, as onus gate
// reads them in CI (security administrators and auditors, or a read token
// of theirs).
func (s *Service) ExceptionsExport(ctx context.Context) ([]*onus.Exception, error) {
	if _, err := s.staff(ctx); err != nil {
		return nil, err
	}
	return s.Store.Exceptions(ctx, onus.ExceptionFilter{})
}

func (s *Service) AuditLog(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	if _, err := s.staff(ctx); err != nil {
		return nil, err
	}
	return s.Store.AuditLog(ctx, limit)
}

// ScopeMetrics lets a service token scrape /metrics, and nothing else
// unless it also has read.
const ScopeMetrics = "metrics"

// TokenPrefix starts every API token, so that secret scanners find them.
const TokenPrefix = "onus_"

// HashToken returns the stored form of a token or session value.
func HashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// NewSecret returns 32 random bytes, URL-safe.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateToken makes a personal token for the subject and returns it once.
func (s *Service) CreateToken(ctx context.Context, name string, scopes []string, ttl time.Duration, opsNow time.Time) (string, *store.Token, error) {
	sub, err := writer(ctx)
	if err != nil {
		return "", nil, err
	}
	if !sub.Person {
		return "", nil, forbidden("personal tokens belong to people of the directory; make service tokens with onus token create")
	}
	if sub.Method == "token" {
		return "", nil, forbidden("a token cannot make tokens: sign in")
	}
	return MakeToken(ctx, s.Store, sub.Email, name, scopes, "", ttl, opsNow, sub.Email)
}

// MakeToken stores a new token and returns it.
func MakeToken(ctx context.Context, st *store.DB, owner, name string, scopes []string, role string, ttl time.Duration, now time.Time, actor string) (string, *store.Token, error) {
	if strings.TrimSpace(name) == "" {
		return "", nil, onus.Errorf(onus.EINVALID, "name the token after what uses it")
	}
	if len(scopes) == 0 {
		scopes = []string{"read"}
	}
	for _, sc := range scopes {
		switch {
		case sc == ScopeMetrics && !strings.HasPrefix(owner, "service:"):
			return "", nil, onus.Errorf(onus.EINVALID, "the metrics scope is for service tokens (onus token create --service prometheus --scopes metrics)")
		case sc != "read" && sc != "write" && sc != ScopeMetrics:
			return "", nil, onus.Errorf(onus.EINVALID, "unknown scope %q (want read, write or metrics)", sc)
		}
	}
	if ttl <= 0 || ttl > 366*24*time.Hour {
		return "", nil, onus.Errorf(onus.EINVALID, "a token lasts between a minute and a year")
	}
	tok := TokenPrefix + NewSecret()
	t := &store.Token{Hash: HashToken(tok), Email: strings.ToLower(owner), Name: name, Scopes: scopes, Role: role, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := st.CreateToken(ctx, t, actor); err != nil {
		return "", nil, err
	}
	return tok, t, nil
}

// Tokens lists the subject's tokens.
func (s *Service) Tokens(ctx context.Context) ([]*store.Token, error) {
	sub, err := subject(ctx)
	if err != nil {
		return nil, err
	}
	if !sub.Person {
		return nil, nil
	}
	return s.Store.Tokens(ctx, sub.Email)
}

// RevokeToken revokes one of the subject's tokens.
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	sub, err := writer(ctx)
	if err != nil {
		return err
	}
	if !sub.Person {
		return forbidden("no personal tokens")
	}
	return s.Store.RevokeToken(ctx, id, sub.Email, sub.Email)
}
