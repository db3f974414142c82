package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/store"
)

// The example's background check filed under a personal address is a
// possible match: unknown until an admin links it, then the check passes;
// the link is audited and explained, and unlink --forget undoes it.
func TestLinkConfirmsAPossibleMatch(t *testing.T) {
	dir := demo(t)
	c := func(args ...string) (string, string, int) { return cli(t, append(args, "--config", dir)...) }
	story, _ := os.ReadFile(filepath.Join(dir, "STORY.txt"))
	m := regexp.MustCompile(`onus link (person:\S+) (checkr:\S+) confirms`).FindStringSubmatch(string(story))
	if m == nil {
		t.Fatal("the story names no background check to link")
	}
	person, cand := m[1], m[2]
	now := "--now=" + orggen.AcmeNow.Format(time.RFC3339)

	out, _, _ := c("eval", now)
	if !strings.Contains(out, "possible match: "+cand) {
		t.Fatalf("eval does not show the possible match:\n%s", out)
	}
	out, _, _ = c("explain", person)
	if !strings.Contains(out, "Ambiguous") || !strings.Contains(out, cand) {
		t.Errorf("explain does not show the possible match:\n%s", out)
	}
	// The candidate's record joined nothing yet: explain says why, and
	// who it may be.
	if _, errs, code := c("explain", cand); code == 0 || !strings.Contains(errs, "joined no entity") || !strings.Contains(errs, "possible match: "+person) {
		t.Errorf("explain of the unmatched record: %d %s", code, errs)
	}

	// References are checked before anything is stored.
	if _, errs, code := c("link", person, "checkr:nope"); code == 0 || !strings.Contains(errs, "checkr:nope names no record or entity") {
		t.Errorf("link to nothing: %d %s", code, errs)
	}
	out, errs, code := c("link", person, cand, "--reason", "applied with a personal address", "--as", "it@acme.com")
	if code != 0 || !strings.Contains(out, "linked "+person+" and "+cand) {
		t.Fatalf("link: %d %s%s", code, out, errs)
	}
	out, _, _ = c("link")
	if !strings.Contains(out, "linked "+person+" "+cand) && !strings.Contains(out, "linked "+cand+" "+person) {
		t.Errorf("link list:\n%s", out)
	}
	out, _, _ = c("eval", now)
	if strings.Contains(out, "possible match: "+cand) || !strings.Contains(out, "background-check-complete") {
		t.Errorf("the link did not resolve the possible match:\n%s", out)
	}
	// The candidate's record id finds the person it now belongs to.
	out, _, _ = c("explain", cand)
	if !strings.Contains(out, "("+person+")") || !strings.Contains(out, "by link=by hand: onus link") {
		t.Errorf("explain by record id:\n%s", out)
	}

	db, err := store.Open(context.Background(), filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	log, err := db.AuditLog(context.Background(), 10)
	db.Close()
	found := false
	for _, e := range log {
		found = found || (e.Action == "link" && e.Actor == "it@acme.com" && e.Detail == "applied with a personal address" && strings.Contains(e.Object, cand))
	}
	if err != nil || !found {
		t.Errorf("no link in the audit log: %+v, %v", log, err)
	}

	// A decision whose record left its source does nothing, and says so.
	if _, errs, code := c("unlink", "device:serial:NOPE", person); code == 0 || !strings.Contains(errs, "names no record or entity") {
		t.Errorf("unlink of nothing: %d %s", code, errs)
	}
	if out, errs, code := c("unlink", "--forget", person, cand); code != 0 || !strings.Contains(out, "forgot") {
		t.Errorf("forget: %d %s%s", code, out, errs)
	}
	if _, errs, code := c("unlink", "--forget", person, cand); code == 0 || !strings.Contains(errs, "no link or unlink") {
		t.Errorf("forget twice: %d %s", code, errs)
	}
	out, _, _ = c("eval", now)
	if !strings.Contains(out, "possible match: "+cand) {
		t.Errorf("forgetting the link did not bring the possible match back:\n%s", out)
	}
}

// A control whose scope matches nothing is a warning in the run summary,
// and an error under --strict.
func TestStrict(t *testing.T) {
	dir := demo(t)
	c := func(args ...string) (string, string, int) { return cli(t, append(args, "--config", dir)...) }
	now := "--now=" + orggen.AcmeNow.Format(time.RFC3339)
	if out, errs, code := c("eval", now, "--strict"); code != 0 || strings.Contains(out, "Warnings") {
		t.Fatalf("the example has warnings under --strict: %d\n%s%s", code, out, errs)
	}
	os.WriteFile(filepath.Join(dir, "controls", "c64.yaml"), []byte(`id: c64-patched
title: Commodore 64s are patched
activity: endpoint-protection
severity: low
scope: entity.kind == "device" && has(entity.model) && entity.model == "Commodore 64"
check: entity.os_version == "2"
owner: entity.owner
`), 0o644)
	out, _, code := c("eval", now)
	if code != 0 || !strings.Contains(out, "control c64-patched: its scope matched no entity") {
		t.Errorf("eval: %d\n%s", code, out)
	}
	out, errs, code := c("eval", now, "--strict")
	if code != 1 || !strings.Contains(errs, "--strict: the run has 1 warning(s)") {
		t.Errorf("eval --strict: %d\n%s%s", code, out, errs)
	}
}
