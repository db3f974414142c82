package monitor_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/internal/testsrv"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/notify"
	_ "github.com/onus-sec/onus/notify/slack"
	_ "github.com/onus-sec/onus/notify/smtp"
	"github.com/onus-sec/onus/notify/webhook"
	"github.com/onus-sec/onus/store"
)

// Monday 30 November 2026, 09:00 UTC: Europe and India are at work, the
// Americas are not yet.
var (
	morning = orggen.AcmeNow
	evening = orggen.AcmeNow.Add(8*time.Hour + 30*time.Minute) // 17:30 UTC: the Americas
)

// withChannels writes channels into the example's onus.yaml.
func withChannels(t *testing.T, dir, yaml string) {
	t.Helper()
	path := filepath.Join(dir, "onus.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "  # channels:\n", "  channels:\n"+yaml, 1)
	if s == string(b) {
		t.Fatal("the example's onus.yaml has no channels placeholder")
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func emailYAML(t *testing.T, mp *testsrv.Mailpit) string {
	t.Setenv("ACME_SMTP_USER", mp.User)
	t.Setenv("ACME_SMTP_PASSWORD", mp.Password)
	return fmt.Sprintf("    email: { host: %s, port: %d, tls: starttls, ca_file: %s, username: env:ACME_SMTP_USER, password: env:ACME_SMTP_PASSWORD, from: \"Acme Security <security@acme.com>\" }\n",
		mp.SMTPHost, mp.SMTPPort, mp.CAFile)
}

func (e *env) nudge(now time.Time, o monitor.NudgeOptions) *monitor.NudgeReport {
	e.t.Helper()
	m := e.monitor()
	if o.Channels == nil && !o.DryRun {
		chans, err := notify.Open(&m.Config.Nudges)
		if err != nil {
			e.t.Fatal(err)
		}
		o.Channels = chans
	}
	rep, err := m.Nudge(context.Background(), now, o)
	if err != nil {
		e.t.Fatalf("nudge: %v", err)
	}
	return rep
}

// mimeParts returns the plain-text and HTML alternatives of a valid MIME
// message; both must be there.
func mimeParts(t *testing.T, raw string) (text, html string) {
	t.Helper()
	p := testsrv.MIMEParts(t, raw)
	if p["text/plain"] == "" || p["text/html"] == "" {
		t.Fatalf("a part is missing: %d parts", len(p))
	}
	return p["text/plain"], p["text/html"]
}

// The example organisation, nudged through a real SMTP server: every
// planned message arrives once, in its recipient's working hours, as
// valid MIME with both parts, listing the right items; each finding's
// history says who was told; nudging again sends nothing new.
func TestNudgeThroughMailpit(t *testing.T) {
	mp := testsrv.StartMailpit(t)
	e := newEnv(t)
	// A hostile device name, as the endpoint agent reports it.
	const evil = `MBP-<b>HK</b> <!channel> "x"`
	e.edit("jamf/computers-inventory.json", func(s string) string {
		return strings.ReplaceAll(s, `"name": "MBP-HKOWALSKI"`, `"name": "MBP-\u003cb\u003eHK\u003c/b\u003e \u003c!channel\u003e \"x\""`)
	})
	withChannels(t, e.dir, emailYAML(t, mp))
	e.run(0)
	var hostile onus.Finding
	for _, f := range e.findings(onus.StateOpen) {
		if f.EntityName == evil {
			hostile = f
		}
	}
	if hostile.ID == 0 {
		t.Fatalf("no finding on the device named %q", evil)
	}

	rep := e.nudge(morning, monitor.NudgeOptions{})
	dueNow := 0
	for _, p := range rep.Planned {
		if !p.NotBefore.After(morning) {
			dueNow++
		}
	}
	if dueNow == 0 || dueNow == len(rep.Planned) {
		t.Fatalf("%d of %d messages due in the morning: the test needs both kinds", dueNow, len(rep.Planned))
	}
	if rep.Delivery.Sent != dueNow || len(mp.Messages(t)) != dueNow {
		t.Fatalf("morning: sent %d, mailpit has %d, want %d", rep.Delivery.Sent, len(mp.Messages(t)), dueNow)
	}
	rep2 := e.nudge(evening, monitor.NudgeOptions{})
	if rep2.Added != 0 || rep2.Cancelled != 0 {
		t.Errorf("the evening plan changed the outbox: %d added, %d cancelled", rep2.Added, rep2.Cancelled)
	}
	msgs := mp.Messages(t)
	if len(msgs) != len(rep.Planned) {
		t.Fatalf("mailpit has %d messages, %d were planned", len(msgs), len(rep.Planned))
	}
	byTo := map[string]testsrv.Message{}
	for _, m := range msgs {
		to := m.To[0].Address
		if _, dup := byTo[to]; dup {
			t.Errorf("%s got two messages", to)
		}
		byTo[to] = m
	}
	// Barbara's digest: four items, soonest due first, with their steps.
	text, html := mimeParts(t, mp.Raw(t, byTo["barbara.liskov@acme.com"].ID))
	order := []string{"the account omar.fischer@acme.com", "the colleague Zane Aziz", "the laptop MBP-TBERG", "your app Google Chrome.app"}
	last := -1
	for _, s := range order {
		i := strings.Index(text, s)
		if i < 0 || i < last {
			t.Errorf("Barbara's digest: %q missing or out of order:\n%s", s, text)
		}
		last = i
	}
	if !strings.Contains(text, "Hi Barbara,") || !strings.Contains(text, "Ask IT to deactivate it in Okta") || !strings.Contains(html, "Hi Barbara,") {
		t.Errorf("Barbara's digest is not personal:\n%s", text)
	}
	// The hostile name arrives escaped in HTML and as plain text in text.
	_, html = mimeParts(t, mp.Raw(t, byTo[hostile.Responsible.Email].ID))
	if strings.Contains(html, "<b>HK</b>") || !strings.Contains(html, "MBP-&lt;b&gt;HK&lt;/b&gt; &lt;!channel&gt; &#34;x&#34;") {
		t.Errorf("the device name is not escaped in HTML:\n%s", html)
	}
	// Every finding told about has it in its history.
	for _, p := range rep.Planned {
		for id := range p.Items {
			if id == 0 {
				continue // a summary
			}
			evs, _ := e.db.Events(context.Background(), id)
			told := false
			for _, ev := range evs {
				told = told || (ev.Type == onus.EventTold && ev.To == p.Recipient)
			}
			if !told {
				t.Errorf("finding %d: no \"told %s\" in its history", id, p.Recipient)
			}
		}
	}
	// The runs are in the audit log.
	audit, _ := e.db.AuditLog(context.Background(), 20)
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action+": "+a.Detail)
	}
	if !strings.Contains(strings.Join(actions, "\n"), fmt.Sprintf("nudge.deliver: %d sent", dueNow)) {
		t.Errorf("the delivery is not in the audit log:\n%s", strings.Join(actions, "\n"))
	}
	// Nothing changed: nothing more is planned or sent.
	rep3 := e.nudge(evening.Add(10*time.Minute), monitor.NudgeOptions{})
	if len(rep3.Planned) != 0 || len(mp.Messages(t)) != len(msgs) {
		t.Errorf("a second run planned %d and mailpit now has %d", len(rep3.Planned), len(mp.Messages(t)))
	}
}

// A finding fixed before its message goes out cancels the message.
func TestNudgeCancelledWhenFixed(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	m := e.monitor()
	// Plan on Sunday night: everything waits for Monday.
	sunday := morning.Add(-12 * time.Hour)
	rep, err := m.Nudge(context.Background(), sunday, monitor.NudgeOptions{})
	if err != nil || rep.Added == 0 {
		t.Fatalf("plan: %+v, %v", rep, err)
	}
	// Hugo turns FileVault on: his finding is resolved.
	e.edit("jamf/computers-inventory.json", func(s string) string {
		i := strings.Index(s, `"name": "MBP-HKOWALSKI"`)
		j := i + strings.Index(s[i:], `"fileVault2Status": "NOT_ENCRYPTED"`)
		return s[:j] + `"fileVault2Status": "ALL_ENCRYPTED"` + s[j+len(`"fileVault2Status": "NOT_ENCRYPTED"`):]
	})
	e.run(0)
	open := map[int64]bool{}
	for _, f := range e.findings(onus.StateOpen) {
		open[f.ID] = true
		if f.EntityName == "MBP-HKOWALSKI" && f.Control == "disk-encryption" {
			t.Fatal("the fix did not resolve the finding")
		}
	}
	rep2, err := e.monitor().Nudge(context.Background(), sunday.Add(time.Hour), monitor.NudgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pending, _ := e.db.OutboxMessages(context.Background(), []string{onus.OutboxPending}, "", 0)
	for _, p := range pending {
		for id := range p.Items {
			if id != 0 && !open[id] {
				t.Errorf("a pending message to %s still covers finding %d, which is no longer open", p.Recipient, id)
			}
		}
	}
	if rep2.Cancelled == 0 {
		t.Errorf("nothing was cancelled after a finding changed (report %+v)", rep2)
	}
}

// Dry runs store and send nothing, and show one person's messages.
func TestNudgeDryRun(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	rep := e.nudge(morning, monitor.NudgeOptions{DryRun: true, Person: "barbara.liskov@acme.com"})
	if len(rep.Planned) != 1 || rep.Planned[0].Recipient != "barbara.liskov@acme.com" || len(rep.Planned[0].Items) != 4 {
		t.Fatalf("dry run for Barbara: %+v", rep.Planned)
	}
	if ms, _ := e.db.OutboxMessages(context.Background(), nil, "", 0); len(ms) != 0 {
		t.Errorf("a dry run stored %d messages", len(ms))
	}
	if _, err := e.monitor().Nudge(context.Background(), morning, monitor.NudgeOptions{Person: "x@acme.com"}); err == nil {
		t.Error("--person without --dry-run was accepted")
	}
}

// The crash helper: run as a child process, it nudges and kills itself
// with SIGKILL at one step of one delivery.
func TestNudgeCrashHelper(t *testing.T) {
	dir := os.Getenv("ONUS_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestNudgeCrashAndRestart in a child process")
	}
	step, after := os.Getenv("ONUS_CRASH_STEP"), os.Getenv("ONUS_CRASH_AFTER")
	n, _ := strconv.Atoi(after)
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	chans, err := notify.Open(&cfg.Nudges)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "test"}
	_, err = m.Nudge(context.Background(), morning, monitor.NudgeOptions{Channels: chans, Step: func(s string, _ *onus.OutboxMessage) {
		if s == step {
			if seen++; seen == n {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute)
			}
		}
	}})
	t.Fatalf("the helper did not crash at %s #%d (err %v)", step, n, err)
}

// receiver is a webhook endpoint that checks signatures and handles each
// idempotency key once, as the webhook documentation asks.
type receiver struct {
	mu       sync.Mutex
	handled  map[string]int // key → times handled
	requests map[string]int // key → times received
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := webhook.Verify([]byte("hook-secret"), req, body, 5*time.Minute, time.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := req.Header.Get(webhook.HeaderKey)
	r.requests[key]++
	if r.handled[key] == 0 {
		r.handled[key]++
	}
}

// Kill the dispatcher at each step of a delivery and restart it: nothing
// is lost and nothing is handled twice. On e-mail, which cannot drop a
// duplicate, a crash while sending leaves the message uncertain for a
// person to confirm or resend; on the webhook, whose receivers drop
// duplicates by key, it is sent again.
func TestNudgeCrashAndRestart(t *testing.T) {
	if os.Getenv("ONUS_CRASH_DIR") != "" {
		t.Skip("in the helper")
	}
	mp := testsrv.StartMailpit(t)
	rcv := &receiver{handled: map[string]int{}, requests: map[string]int{}}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	t.Setenv("ACME_HOOK_SECRET", "hook-secret")

	base := newEnv(t)
	base.run(0)
	base.db.Close()

	for _, channel := range []string{"email", "webhook"} {
		for _, step := range []string{"claimed", "sending", "sent", "recorded"} {
			t.Run(channel+"/"+step, func(t *testing.T) {
				dir := t.TempDir()
				if err := os.CopyFS(dir, os.DirFS(base.dir)); err != nil {
					t.Fatal(err)
				}
				yaml := emailYAML(t, mp)
				if channel == "webhook" {
					yaml += fmt.Sprintf("    webhook: { url: %s, secret: env:ACME_HOOK_SECRET }\n", hook.URL)
				}
				withChannels(t, dir, yaml)
				if channel == "webhook" {
					b, _ := os.ReadFile(filepath.Join(dir, "onus.yaml"))
					os.WriteFile(filepath.Join(dir, "onus.yaml"), []byte(strings.Replace(string(b), "nudges:\n", "nudges:\n  default_channel: webhook\n", 1)), 0o644)
				}
				before := len(mp.Messages(t))
				rcv.mu.Lock()
				clear(rcv.handled)
				clear(rcv.requests)
				rcv.mu.Unlock()

				// The child crashes at the third delivery's step.
				cmd := exec.Command(os.Args[0], "-test.run=^TestNudgeCrashHelper$", "-test.count=1")
				cmd.Env = append(os.Environ(), "ONUS_CRASH_DIR="+dir, "ONUS_CRASH_STEP="+step, "ONUS_CRASH_AFTER=3")
				out, err := cmd.CombinedOutput()
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("the helper was not killed (%v):\n%s", err, out)
				}

				// Restart after the lease ran out.
				db, err := store.Open(context.Background(), filepath.Join(dir, "onus.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				cfg, err := config.Load(dir)
				if err != nil {
					t.Fatal(err)
				}
				chans, err := notify.Open(&cfg.Nudges)
				if err != nil {
					t.Fatal(err)
				}
				m := &monitor.Monitor{Config: cfg, Store: db, Actor: "test"}
				rep, err := m.Nudge(context.Background(), morning.Add(5*time.Minute), monitor.NudgeOptions{Channels: chans})
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				uncertain, _ := db.OutboxMessages(ctx, []string{onus.OutboxUncertain}, "", 0)
				wantUncertain := channel == "email" && (step == "sending" || step == "sent")
				if wantUncertain != (len(uncertain) == 1) || len(uncertain) > 1 {
					t.Fatalf("%d uncertain messages after a crash at %s on %s (report %+v)", len(uncertain), step, channel, rep.Delivery)
				}
				if len(uncertain) == 1 {
					// A person checks: it arrived (crash after sending) or
					// not (crash before the server had it).
					u := uncertain[0]
					arrived := 0
					for _, msg := range mp.Messages(t)[:len(mp.Messages(t))-before] {
						if strings.HasPrefix(strings.Trim(msg.MessageID, "<>"), u.Key+"@") {
							arrived++
						}
					}
					if step == "sent" && arrived != 1 || step == "sending" && arrived != 0 {
						t.Fatalf("the uncertain message arrived %d times after a crash at %s", arrived, step)
					}
					if arrived == 1 {
						err = db.Confirm(ctx, u.ID, "ops@acme.com")
					} else {
						err = db.Resend(ctx, u.ID, "ops@acme.com")
					}
					if err != nil {
						t.Fatal(err)
					}
					if _, err := m.Nudge(ctx, morning.Add(6*time.Minute), monitor.NudgeOptions{Channels: chans}); err != nil {
						t.Fatal(err)
					}
				}
				due, _ := db.OutboxMessages(ctx, nil, "", 0)
				var sent []*onus.OutboxMessage
				for _, o := range due {
					if !o.NotBefore.After(morning) {
						if o.Status != onus.OutboxSent {
							t.Errorf("message %d to %s is %s, want sent", o.ID, o.Recipient, o.Status)
						}
						sent = append(sent, o)
					} else if o.Status != onus.OutboxPending {
						t.Errorf("message %d, not due yet, is %s", o.ID, o.Status)
					}
				}
				if len(sent) < 4 {
					t.Fatalf("only %d messages were due: the crash at the third proves little", len(sent))
				}
				// Exactly once, counted where it arrives.
				switch channel {
				case "email":
					got := map[string]int{}
					for _, msg := range mp.Messages(t)[:len(mp.Messages(t))-before] {
						got[strings.SplitN(strings.Trim(msg.MessageID, "<>"), "@", 2)[0]]++
					}
					for _, o := range sent {
						if got[o.Key] != 1 {
							t.Errorf("message %d to %s arrived %d times", o.ID, o.Recipient, got[o.Key])
						}
					}
					if len(got) != len(sent) {
						t.Errorf("mailpit got %d distinct messages, %d were sent", len(got), len(sent))
					}
				case "webhook":
					rcv.mu.Lock()
					for _, o := range sent {
						if rcv.handled[o.Key] != 1 {
							t.Errorf("message %d to %s handled %d times", o.ID, o.Recipient, rcv.handled[o.Key])
						}
					}
					resent := 0
					for _, n := range rcv.requests {
						resent += n - 1
					}
					rcv.mu.Unlock()
					// A crash after the receiver had it sends it again;
					// the receiver drops the copy by its key.
					if wantResent := step == "sent"; wantResent != (resent == 1) || resent > 1 {
						t.Errorf("%d duplicate requests after a crash at %s", resent, step)
					}
				}
				// And every finding told about says so in its history.
				for _, o := range sent {
					for id := range o.Items {
						if id == 0 {
							continue
						}
						evs, _ := db.Events(ctx, id)
						n := 0
						for _, ev := range evs {
							if ev.Type == onus.EventTold && ev.To == o.Recipient && strings.Contains(ev.Note, fmt.Sprintf("outbox %d", o.ID)) {
								n++
							}
						}
						if n != 1 {
							t.Errorf("finding %d has %d \"told\" lines for message %d", id, n, o.ID)
						}
					}
				}
			})
		}
	}
}

// Everyone prefers Slack; Slack knows only the people in the IT team's
// list. They get a direct message; everyone else the same message by
// e-mail, through the real servers.
func TestNudgeSlackWithEmailFallback(t *testing.T) {
	mp := testsrv.StartMailpit(t)
	onSlack := map[string]string{"barbara.liskov@acme.com": "U0BARBARA", "uma.keller@acme.com": "U0UMA"}
	var mu sync.Mutex
	dms := map[string]string{} // user id → blocks
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/users.lookupByEmail", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			id, ok := onSlack[r.Form.Get("email")]
			if !ok {
				w.Write([]byte(`{"ok":false,"error":"users_not_found"}`))
				return
			}
			fmt.Fprintf(w, `{"ok":true,"user":{"id":%q}}`, id)
		})
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			mu.Lock()
			dms[r.Form.Get("channel")] = r.Form.Get("blocks")
			mu.Unlock()
			fmt.Fprintf(w, `{"ok":true,"channel":"D%s","ts":"1.2"}`, r.Form.Get("channel"))
		})
	})
	srv.Start()
	defer srv.Stop()
	t.Setenv("ACME_SLACK_TOKEN", "xoxb-test")

	e := newEnv(t)
	withChannels(t, e.dir, emailYAML(t, mp)+fmt.Sprintf("    slack: { token: env:ACME_SLACK_TOKEN, api_url: %q }\n", srv.GetAPIURL()))
	b, _ := os.ReadFile(filepath.Join(e.dir, "onus.yaml"))
	os.WriteFile(filepath.Join(e.dir, "onus.yaml"), []byte(strings.Replace(string(b), "  time_zone: entity.sources.hr.time_zone\n",
		"  time_zone: entity.sources.hr.time_zone\n  channel: '\"slack\"'\n", 1)), 0o644)
	e.run(0)
	rep := e.nudge(morning, monitor.NudgeOptions{})
	viaSlack := 0 // due now, planned for Slack: people in the directory
	for _, p := range rep.Planned {
		if !p.NotBefore.After(morning) && p.Channel == "slack" {
			viaSlack++
		}
	}
	if viaSlack < 3 || rep.Delivery.Rerouted != viaSlack-2 {
		t.Fatalf("delivery %+v of %d planned for Slack: want two by Slack and the rest rerouted to e-mail", rep.Delivery, viaSlack)
	}
	mu.Lock()
	if len(dms) != 2 || !strings.Contains(dms["U0BARBARA"], "your app Google Chrome.app") {
		t.Errorf("Slack direct messages: %v", dms)
	}
	mu.Unlock()
	if n := len(mp.Messages(t)); n != rep.Delivery.Sent-2 {
		t.Errorf("mailpit has %d messages, want %d", n, rep.Delivery.Sent-2)
	}
	for _, m := range mp.Messages(t) {
		if _, ok := onSlack[m.To[0].Address]; ok {
			t.Errorf("%s got an e-mail as well as a Slack message", m.To[0].Address)
		}
	}
	sent, _ := e.db.OutboxMessages(context.Background(), []string{onus.OutboxSent}, "barbara.liskov@acme.com", 0)
	if len(sent) != 1 || sent[0].Channel != "slack" || sent[0].ProviderID != "DU0BARBARA/1.2" {
		t.Errorf("Barbara's message: %+v", sent)
	}
}

// Without nudges.finding_url and exception_url, messages link to the pages
// of onus serve at serve.url; set, they win; with neither, there is no link.
func TestNudgeURLsDefaultToServe(t *testing.T) {
	tests := []struct {
		name                     string
		serveURL, finding, excep string
		wantFinding, wantExcep   string
	}{
		{"serve.url only", "https://onus.fjord.example/", "", "", "https://onus.fjord.example/findings/{{.ID}}", "https://onus.fjord.example/findings/{{.ID}}/exception"},
		{"nudges win", "https://onus.fjord.example", "https://wiki/f/{{.ID}}", "", "https://wiki/f/{{.ID}}", "https://onus.fjord.example/findings/{{.ID}}/exception"},
		{"neither", "", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{}
			cfg.Serve.URL, cfg.Nudges.FindingURL, cfg.Nudges.ExceptionURL = tt.serveURL, tt.finding, tt.excep
			f, x := monitor.NudgeURLs(cfg)
			if f != tt.wantFinding || x != tt.wantExcep {
				t.Errorf("NudgeURLs = %q, %q; want %q, %q", f, x, tt.wantFinding, tt.wantExcep)
			}
		})
	}

	// End to end: Barbara's digest links to her items on onus serve.
	e := newEnv(t)
	path := filepath.Join(e.dir, "onus.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "finding_url:") && !strings.Contains(l, "exception_url:") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	e.run(0)
	rep := e.nudge(morning, monitor.NudgeOptions{DryRun: true, Person: "barbara.liskov@acme.com"})
	if len(rep.Planned) != 1 {
		t.Fatalf("planned %d messages for Barbara", len(rep.Planned))
	}
	text := rep.Planned[0].Text
	for _, want := range []string{"https://onus.acme.com/findings/28", "Ask for an exception: https://onus.acme.com/findings/28/exception"} {
		if !strings.Contains(text, want) {
			t.Errorf("the digest lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "onus except request") {
		t.Errorf("the digest tells Barbara to run the CLI:\n%s", text)
	}
}
