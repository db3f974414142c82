package smtp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/testsrv"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/notify/smtp"
)

func channel(t *testing.T, mp *testsrv.Mailpit, password string) *smtp.Channel {
	t.Helper()
	t.Setenv("TEST_SMTP_USER", mp.User)
	t.Setenv("TEST_SMTP_PASSWORD", password)
	ch, err := smtp.New(&smtp.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: "starttls", CAFile: mp.CAFile,
		Username: "env:TEST_SMTP_USER", Password: "env:TEST_SMTP_PASSWORD", From: "Acme Security <security@acme.com>"})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestSendThroughMailpit(t *testing.T) {
	mp := testsrv.StartMailpit(t)
	ch := channel(t, mp, mp.Password)
	id, err := ch.Send(context.Background(), notify.Envelope{
		Key: "k123", To: onus.Person{Email: "jane.doe@acme.com", Name: "Jane Doe"}, Subject: "2 security items for you",
		Text: "Hi Jane,\nyour laptop <script>alert(1)</script> needs you.\n",
		HTML: "<p>Hi Jane, your laptop &lt;script&gt;alert(1)&lt;/script&gt; needs you.</p>",
	})
	if err != nil {
		t.Fatal(err)
	}
	if id != "<k123@acme.com>" {
		t.Errorf("provider id = %q", id)
	}
	msgs := mp.Messages(t)
	if len(msgs) != 1 || msgs[0].Subject != "2 security items for you" || msgs[0].To[0].Address != "jane.doe@acme.com" || msgs[0].MessageID != "k123@acme.com" {
		t.Fatalf("received %+v", msgs)
	}
	p := testsrv.MIMEParts(t, mp.Raw(t, msgs[0].ID))
	if !strings.Contains(p["text/plain"], "<script>alert(1)</script>") || !strings.Contains(p["text/html"], "&lt;script&gt;") || strings.Contains(p["text/html"], "<script>") {
		t.Errorf("parts = %q", p)
	}
}

func TestBadCredentialsAndRecipients(t *testing.T) {
	mp := testsrv.StartMailpit(t)
	ch := channel(t, mp, "wrong")
	_, err := ch.Send(context.Background(), notify.Envelope{Key: "k", To: onus.Person{Email: "jane@acme.com"}, Subject: "s", Text: "t"})
	if err == nil {
		t.Fatal("sent with a wrong password")
	}
	ch = channel(t, mp, mp.Password)
	if _, err := ch.Send(context.Background(), notify.Envelope{Key: "k", To: onus.Person{Email: "not an address"}, Subject: "s", Text: "t"}); !errors.Is(err, notify.ErrPermanent) {
		t.Errorf("bad recipient: %v, want a permanent error", err)
	}
	if n := len(mp.Messages(t)); n != 0 {
		t.Errorf("%d messages arrived", n)
	}
	// Secrets come from the environment or files, never from the config.
	if _, err := smtp.New(&smtp.Config{Host: "h", From: "a@b.c", Password: "env:ONUS_TEST_UNSET_VARIABLE"}); err == nil || !strings.Contains(err.Error(), "ONUS_TEST_UNSET_VARIABLE is not set") {
		t.Errorf("unset secret: %v", err)
	}
}

// proxy forwards TCP connections to a server and can cut them all, as a
// relay does with idle connections.
type proxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	dials int
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l}
	t.Cleanup(func() { l.Close(); p.cut() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.dials++
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dials
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// One connection carries many messages; when the server drops it, the
// next message dials again, and nothing is sent twice.
func TestConnectionReuseAndRedial(t *testing.T) {
	mp := testsrv.StartMailpit(t)
	px := newProxy(t, fmt.Sprintf("127.0.0.1:%d", mp.SMTPPort))
	t.Setenv("TEST_SMTP_USER", mp.User)
	t.Setenv("TEST_SMTP_PASSWORD", mp.Password)
	ch, err := smtp.New(&smtp.Config{Host: "localhost", Port: px.l.Addr().(*net.TCPAddr).Port, CAFile: mp.CAFile,
		Username: "env:TEST_SMTP_USER", Password: "env:TEST_SMTP_PASSWORD", From: "security@acme.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	send := func(key string) {
		t.Helper()
		if _, err := ch.Send(context.Background(), notify.Envelope{Key: key, To: onus.Person{Email: key + "@acme.com"}, Subject: key, Text: "t"}); err != nil {
			t.Fatalf("send %s: %v", key, err)
		}
	}
	send("a")
	send("b")
	send("c")
	if n := px.count(); n != 1 {
		t.Errorf("%d connections for 3 messages, want 1", n)
	}
	px.cut()
	send("d")
	if n := px.count(); n != 2 {
		t.Errorf("%d connections after the server dropped one, want 2", n)
	}
	got := map[string]int{}
	for _, m := range mp.Messages(t) {
		got[m.Subject]++
	}
	if len(got) != 4 || got["a"] != 1 || got["b"] != 1 || got["c"] != 1 || got["d"] != 1 {
		t.Errorf("received %v, want a, b, c and d once each", got)
	}
}

// Implicit TLS (tls: tls, as on port 465) with authentication.
func TestImplicitTLS(t *testing.T) {
	mp := testsrv.StartMailpit(t, testsrv.ImplicitTLS)
	t.Setenv("TEST_SMTP_USER", mp.User)
	t.Setenv("TEST_SMTP_PASSWORD", mp.Password)
	cfg := &smtp.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: "tls", CAFile: mp.CAFile,
		Username: "env:TEST_SMTP_USER", Password: "env:TEST_SMTP_PASSWORD", From: "security@acme.com"}
	ch, err := smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if _, err := ch.Send(context.Background(), notify.Envelope{Key: "tls1", To: onus.Person{Email: "jane@acme.com"}, Subject: "over TLS", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if msgs := mp.Messages(t); len(msgs) != 1 || msgs[0].Subject != "over TLS" {
		t.Errorf("received %+v", msgs)
	}
}

// replyCutter forwards SMTP connections to a server, but once the client
// has sent a message body (more than body bytes since the server last
// spoke) it drops the server's answer and closes both sides: the relay
// has taken the message, and the client never hears so. It works on the
// TLS records, unseen.
func replyCutter(t *testing.T, target string, body int) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			var mu sync.Mutex
			sent := 0
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						mu.Lock()
						sent += n
						mu.Unlock()
						s.Write(buf[:n])
					}
					if err != nil {
						s.Close()
						return
					}
				}
			}()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := s.Read(buf)
					mu.Lock()
					cut := sent > body
					sent = 0
					mu.Unlock()
					if cut {
						c.Close()
						s.Close()
						return
					}
					if n > 0 {
						c.Write(buf[:n])
					}
					if err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr)
}

// The connection fails after the relay took the message (its answer to
// the end of the data is lost): the send is uncertain, never retried, and
// the message arrives once.
func TestReplyLostAfterData(t *testing.T) {
	mp := testsrv.StartMailpit(t)
	addr := replyCutter(t, fmt.Sprintf("127.0.0.1:%d", mp.SMTPPort), 16<<10)
	t.Setenv("TEST_SMTP_USER", mp.User)
	t.Setenv("TEST_SMTP_PASSWORD", mp.Password)
	ch, err := smtp.New(&smtp.Config{Host: "localhost", Port: addr.Port, CAFile: mp.CAFile,
		Username: "env:TEST_SMTP_USER", Password: "env:TEST_SMTP_PASSWORD", From: "security@acme.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	_, err = ch.Send(context.Background(), notify.Envelope{Key: "once", To: onus.Person{Email: "jane@acme.com"}, Subject: "once",
		Text: strings.Repeat("Your laptop needs you. ", 2000)})
	if !errors.Is(err, notify.ErrUncertain) || errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("send = %v, want an uncertain failure", err)
	}
	if n := len(mp.Messages(t)); n != 1 {
		t.Fatalf("%d messages arrived, want 1: the relay had it", n)
	}
}
