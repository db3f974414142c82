package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// gaps.sql's norm_mac gives what identity.MAC gives
// (identity/identity_test.go's cases and a few more).
func TestNormMAC(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	prelude, _, _ := strings.Cut(gapsSQL, "-- Sources")
	for _, stmt := range statements(prelude) {
		if _, err := conn.ExecContext(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", firstLine(stmt), err)
		}
	}
	for in, want := range map[string]string{
		"AC:DE:48:00:11:22": "", // Apple T2, shared
		"00:05:9a:3c:7a:00": "", // AnyConnect, shared
		"02-42-AC-11-00-02": "", // Docker, shared
		"01:00:5e:00:00:fb": "", // multicast
		"00:00:00:00:00:00": "", // all zero
		"FF-FF-FF-FF-FF-FF": "", // broadcast
		"not-a-mac":         "", // not hex
		"42:01:0a:80:00:1":  "", // 11 digits
		"   ":               "", // blank
		"42:01:0a:80:00:15": "42:01:0a:80:00:15",
		"A4-83-E7-C7-BE-EB": "a4:83:e7:c7:be:eb",
		"a483.e7c7.beeb":    "a4:83:e7:c7:be:eb",
		"a483e7c7beeb":      "a4:83:e7:c7:be:eb",
	} {
		var got sql.NullString
		if err := conn.QueryRowContext(context.Background(), `SELECT norm_mac(?)`, in).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got.String != want {
			t.Errorf("norm_mac(%q) = %q, want %q", in, got.String, want)
		}
	}
}
