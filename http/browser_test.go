package http

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/examples"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

var screenshots = flag.Bool("screenshots", false, "write the browser test's screenshots to docs/screenshots")

// hostileName is an HR export's last name that would run script if a
// page wrote it as HTML.
const hostileName = `Aziz<img src=x onerror=alert(1)>`

// acmeServer writes the bundled example with a hostile name in its HR
// export, syncs and evaluates it, and serves it behind a real OpenID
// Provider whose accounts are the given people.
func acmeServer(t *testing.T, people func(db *store.DB) []string) (onusURL string, db *store.DB, users map[string]string) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "acme")
	if err := examples.CopyTo(examples.Acme(), dir); err != nil {
		t.Fatal(err)
	}
	hr := filepath.Join(dir, "exports/hr/people.csv")
	b, err := os.ReadFile(hr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hr, []byte(strings.Replace(string(b), "Zane,Aziz,", "Zane,"+hostileName+",", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(ctx, filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := &monitor.Monitor{Config: cfg, Store: db, Log: slog.New(slog.DiscardHandler), Actor: "test"}
	srep, err := m.Sync(ctx, monitor.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Eval(ctx, orggen.AcmeNow, srep.Snapshots); err != nil {
		t.Fatal(err)
	}

	slog.SetDefault(slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	onusURL = "http://" + ln.Addr().String()
	users = map[string]string{}
	accounts := map[string]*storage.User{}
	for i, email := range people(db) {
		id := fmt.Sprintf("u%d", i)
		users[email] = id
		accounts[id] = &storage.User{ID: id, Username: email, Password: "pw-" + id, Email: email, EmailVerified: true}
	}
	raw, _ := json.Marshal(accounts)
	file := filepath.Join(t.TempDir(), "users.json")
	os.WriteFile(file, raw, 0o600)
	us, err := storage.StoreFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	opLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + opLn.Addr().String()
	clients := map[string]*storage.Client{"onus": storage.WebClient("onus", "onus-secret", onusURL+"/auth/callback")}
	op := &httptest.Server{Listener: opLn, Config: &http.Server{Handler: exampleop.SetupServer(issuer, storage.NewStorageWithClients(us, clients), nil, false)}}
	op.Start()
	t.Cleanup(op.Close)

	cfg.Serve.URL = onusURL
	cfg.Serve.OIDC = &config.OIDC{Issuer: issuer, ClientID: "onus", ClientSecret: "env:UNUSED"}
	az := authz.New(db, cfg, onus.FixedClock(orggen.AcmeNow))
	srv, err := New(ctx, az, slog.New(slog.DiscardHandler), onus.ClockFunc(time.Now), Options{OIDCClientSecret: "onus-secret"})
	if err != nil {
		t.Fatal(err)
	}
	on := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
	on.Start()
	t.Cleanup(on.Close)
	return onusURL, db, users
}

// chromium starts Debian's Chromium, headless, with a fresh profile.
func chromium(t *testing.T) context.Context {
	t.Helper()
	const exe = "/usr/bin/chromium"
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("the browser tests need Debian's chromium at %s (./scripts/test installs it: apt-get install -y chromium)", exe)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("chromium does not start: %v", err)
	}
	// A script that runs would open a dialog: fail on any.
	dialogs := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			t.Errorf("a page opened a JavaScript dialog: %q", ev.Message)
			chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return ctx
}

// pageText is the visible text of the page, to explain a failure.
func pageText(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return loc + "\n" + s
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := t.TempDir()
	if *screenshots {
		dir = filepath.Join("..", "docs", "screenshots")
		os.MkdirAll(dir, 0o755)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser drives Chromium through the accountability loop: the
// employee signs in through the identity provider, sees My page, claims a
// fix and asks for an exception; the Accountable person signs in and
// approves it; the employee sees the finding exempted. A hostile name
// from the HR export shows as text.
func TestBrowser(t *testing.T) {
	const employee = "barbara.liskov@acme.com"
	var exempt onus.Finding
	onusURL, db, users := acmeServer(t, func(db *store.DB) []string {
		fs, err := db.Findings(context.Background(), onus.FindingFilter{Owner: employee, States: []onus.State{onus.StateOpen}})
		if err != nil || len(fs) < 2 {
			t.Fatalf("the example has %d open findings for %s: %v", len(fs), employee, err)
		}
		for _, f := range fs {
			if f.Accountable.Email != "" && f.Accountable.Email != employee && exempt.ID == 0 {
				exempt = f
			}
		}
		if exempt.ID == 0 {
			t.Fatal("no finding of the employee has another Accountable person")
		}
		return []string{employee, exempt.Accountable.Email}
	})
	ctx := chromium(t)
	signIn := func(email string) {
		t.Helper()
		id := users[email]
		err := chromedp.Do(ctx,
			chromedp.Navigate(onusURL+"/signin"),
			chromedp.Click(chromedp.CSS("#signin-oidc")),
			chromedp.WaitVisible(chromedp.CSS("#username")),
			chromedp.SendKeys(chromedp.CSS("#username"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), "pw-"+id),
			chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS("#who")),
		)
		if err != nil {
			t.Fatalf("sign in as %s: %v", email, err)
		}
	}
	signOut := func() {
		t.Helper()
		// The page signed out of may show a message too: wait for the
		// sign-in page's own button.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin-oidc"))); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// 1. The employee signs in and sees My page.
	signIn(employee)
	url, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasSuffix(url, "/me") {
		t.Fatalf("after sign-in the browser is at %s, want /me", url)
	}
	items := text("#my-items")
	if !strings.Contains(items, exempt.EntityName) {
		t.Fatalf("My page does not list %s:\n%s", exempt.EntityName, items)
	}
	// The hostile name is shown as text, and no element came from it.
	if !strings.Contains(items, hostileName) {
		t.Fatalf("My page does not show the hostile name as text:\n%s", items)
	}
	injected, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('img[src="x"]').length`))
	if err != nil || injected != 0 {
		t.Fatalf("the hostile name became %d element(s) (%v)", injected, err)
	}
	shot(t, ctx, "my-page")

	// 2. Claim a fix on another item.
	var claimID int64
	fs, _ := db.Findings(context.Background(), onus.FindingFilter{Owner: employee, States: []onus.State{onus.StateOpen}})
	for _, f := range fs {
		if f.ID != exempt.ID {
			claimID = f.ID
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf("#claim-%d", claimID))), chromedp.WaitVisible(chromedp.CSS("#claim-status"))); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if s := text("#claim-status"); !strings.Contains(s, "awaiting verification") {
		t.Fatalf("after the claim: %q", s)
	}
	if s := text("#history"); !strings.Contains(s, "fix_claimed") {
		t.Fatalf("the claim is not in the history: %q", s)
	}

	// 3. Ask for an exception from My page.
	expires := orggen.AcmeNow.AddDate(0, 0, 10).Format("2006-01-02")
	for i, step := range []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(onusURL + "/me"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#ask-%d", exempt.ID))),
		chromedp.WaitVisible(chromedp.CSS("#reason")),
		chromedp.SendKeys(chromedp.CSS("#reason"), "The account is closed on Friday by the HR offboarding run."),
		chromedp.SetValue(chromedp.CSS("#expires"), expires),
		chromedp.Click(chromedp.CSS("#request-exception")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	} {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := chromedp.Do(sctx, step)
		cancel()
		if err != nil {
			t.Fatalf("ask for an exception, step %d: %v\n%s", i, err, pageText(ctx))
		}
	}
	if s := text("#flash"); !strings.Contains(s, "waiting for the Accountable person") {
		t.Fatalf("after the request: %q", s)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(onusURL+"/team"), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		t.Fatal(err)
	}
	if s := text("main"); !strings.Contains(s, "reports to you") || !strings.Contains(s, "last told") {
		t.Errorf("team page: %q", s)
	}
	shot(t, ctx, "team")
	if err := chromedp.Do(ctx, chromedp.Navigate(onusURL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("svg.chart"))); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "dashboard")
	signOut()

	// 4. The Accountable person approves it.
	signIn(exempt.Accountable.Email)
	xs, _ := db.Exceptions(context.Background(), onus.ExceptionFilter{Finding: exempt.ID})
	if len(xs) != 1 {
		t.Fatalf("%d exceptions for finding %d", len(xs), exempt.ID)
	}
	err = chromedp.Do(ctx, chromedp.Navigate(onusURL+"/approvals"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#approval-%d", xs[0].ID))))
	if err != nil {
		t.Fatalf("the approval is not listed: %v", err)
	}
	shot(t, ctx, "approvals")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf("#approve-%d", xs[0].ID))), chromedp.WaitVisible(chromedp.CSS("#flash"))); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if s := text("#flash"); !strings.Contains(s, "approved") {
		t.Fatalf("after approval: %q", s)
	}
	signOut()

	// 5. The employee sees the finding exempted.
	signIn(employee)
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/findings/%d", onusURL, exempt.ID)), chromedp.WaitVisible(chromedp.CSS("#state"))); err != nil {
		t.Fatal(err)
	}
	if s := text("#state"); s != "exempted" {
		t.Fatalf("the finding is %q, want exempted", s)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(onusURL+"/me"), chromedp.WaitVisible(chromedp.CSS("#my-items"))); err != nil {
		t.Fatal(err)
	}
	if s := text(fmt.Sprintf("#finding-%d", exempt.ID)); !strings.Contains(s, "exempted") {
		t.Fatalf("My page shows the finding as %q, want exempted", s)
	}
}
