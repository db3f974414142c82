// Package testsrv starts the real servers tests talk to. Mailpit, a real
// SMTP server with an HTTP API to read what it received, is installed by
// scripts/test into ~/.cache/onus-tools ($ONUS_TOOLS); a test that cannot start it fails rather
// than skips.
package testsrv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MailpitVersion is the version scripts/test installs.
const MailpitVersion = "v1.33.1"

// Mailpit is a running mailpit.
type Mailpit struct {
	SMTPHost string
	SMTPPort int
	API      string
	// CAFile is the certificate authority of its STARTTLS certificate.
	CAFile string
	// User and Password are accepted by its SMTP authentication.
	User, Password string
}

// toolsDir is where scripts/test installs the programs tests run: a cache
// outside the source tree.
func toolsDir() string {
	if d := os.Getenv("ONUS_TOOLS"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "onus-tools")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "onus-tools")
}

func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ONUS_MAILPIT"); p != "" {
		return p
	}
	p := filepath.Join(toolsDir(), "mailpit")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	// Install it the way scripts/test does.
	cmd := exec.Command("go", "install", "github.com/axllent/mailpit@"+MailpitVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(p))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mailpit is needed for this test and could not be installed (run ./scripts/test): %v\n%s", err, out)
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ImplicitTLS makes mailpit speak TLS from the first byte (as on port
// 465) instead of requiring STARTTLS.
const ImplicitTLS = "implicit-tls"

// StartMailpit starts mailpit with STARTTLS required (or ImplicitTLS) and
// authentication, and stops it when the test ends.
func StartMailpit(t testing.TB, options ...string) *Mailpit {
	t.Helper()
	dir := t.TempDir()
	cert, key, ca := selfSigned(t, dir)
	m := &Mailpit{SMTPHost: "localhost", SMTPPort: freePort(t), CAFile: ca, User: "onus", Password: "s3cret-for-tests"}
	httpPort := freePort(t)
	m.API = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	auth := filepath.Join(dir, "auth")
	os.WriteFile(auth, []byte(m.User+":"+m.Password+"\n"), 0o600)
	cmd := exec.Command(binary(t),
		"--smtp", fmt.Sprintf("127.0.0.1:%d", m.SMTPPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--smtp-tls-cert", cert, "--smtp-tls-key", key, tlsFlag(options),
		"--smtp-auth-file", auth,
		"--database", filepath.Join(dir, "mailpit.db"),
		"--max", "100000", "--quiet")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(m.API + "/api/v1/messages?limit=1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not start: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return m
}

func tlsFlag(options []string) string {
	for _, o := range options {
		if o == ImplicitTLS {
			return "--smtp-require-tls"
		}
	}
	return "--smtp-require-starttls"
}

// Message is a message as mailpit lists it.
type Message struct {
	ID        string
	MessageID string
	Subject   string
	To        []struct{ Address, Name string }
}

// Messages returns every message received, newest first.
func (m *Mailpit) Messages(t testing.TB) []Message {
	t.Helper()
	var out struct {
		Messages []Message `json:"messages"`
	}
	m.get(t, "/api/v1/messages?limit=100000", &out)
	return out.Messages
}

// Raw returns one message's raw MIME source.
func (m *Mailpit) Raw(t testing.TB, id string) string {
	t.Helper()
	resp, err := http.Get(m.API + "/api/v1/message/" + id + "/raw")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (m *Mailpit) get(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
}

// selfSigned writes a certificate for localhost and its own authority.
func selfSigned(t testing.TB, dir string) (certFile, keyFile, caFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile, caFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(caFile, certPEM, 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile, caFile
}

// MIMEParts checks that a raw message is valid MIME, multipart/alternative,
// and returns its parts by content type, decoded.
func MIMEParts(t testing.TB, raw string) map[string]string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("not a valid message: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("bad part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, _ := io.ReadAll(p) // quoted-printable is decoded by the reader
		out[ct] = string(b)
	}
	return out
}
