package badinput_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/examples"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

type outcome string

const (
	accept outcome = "accept"
	skip   outcome = "skip record"
	fail   outcome = "fail source"
	shrunk outcome = "hold as shrunk"
)

// An edit turns an export into its variant and returns the line the
// message must name (0 when the message names the file as a whole).
type edit func(t *testing.T, s string) (string, int)

// variant is one defect in one export.
type variant struct {
	name   string
	source string // the source that reads the file
	file   string // under exports/
	edit   edit
	want   outcome
	// msg is a phrase the message must hold, in onus's or the vendor's words.
	msg string
	// config rewrites onus.yaml (declaring an encoding).
	config func(string) string
	// quiet is set for a skipped record that no control reads: no result
	// turns unknown.
	quiet bool
}

func lineAt(s string, off int) int { return 1 + strings.Count(s[:off], "\n") }

// replace replaces the nth (1-based) occurrence of old; the message names
// its line.
func replace(old, new string, nth int) edit {
	return func(t *testing.T, s string) (string, int) {
		t.Helper()
		off := -1
		for i, from := 0, 0; i < nth; i++ {
			j := strings.Index(s[from:], old)
			if j < 0 {
				t.Fatalf("%q occurs fewer than %d times", old, nth)
			}
			off = from + j
			from = off + len(old)
		}
		return s[:off] + new + s[off+len(old):], lineAt(s, off)
	}
}

// valueEnd returns the end of the JSON value starting at i.
func valueEnd(s string, i int) int {
	switch s[i] {
	case '"':
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\\' {
				j++
				continue
			}
			if s[j] == '"' {
				return j + 1
			}
		}
	case '{', '[':
		depth, in := 0, false
		for j := i; j < len(s); j++ {
			c := s[j]
			switch {
			case in && c == '\\':
				j++
			case c == '"':
				in = !in
			case !in && (c == '{' || c == '['):
				depth++
			case !in && (c == '}' || c == ']'):
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
	default:
		j := i
		for j < len(s) && !strings.ContainsRune(",}]\n", rune(s[j])) {
			j++
		}
		return j
	}
	return len(s)
}

// recordStart returns the offset of the '{' that opens the JSON object
// holding off as one of its own fields.
func recordStart(s string, off int) int {
	depth := 0
	for i := off; i >= 0; i-- {
		switch s[i] {
		case '}', ']':
			depth++
		case '{', '[':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return 0
}

// topRecord returns the offset of the '{' that opens the record (an
// element of a list) holding off, however deep off is inside it.
func topRecord(s string, off int) int {
	st := recordStart(s, off)
	for st > 0 {
		p := recordStart(s, st-1)
		if s[p] == '[' {
			return st
		}
		st = p
	}
	return st
}

// noLine makes the message name the file as a whole.
func noLine(e edit) edit {
	return func(t *testing.T, s string) (string, int) {
		out, _ := e(t, s)
		return out, 0
	}
}

// fieldLine makes the message name the line of the edit itself (a syntax
// error), not the record's.
func fieldLine(anchor, field, value string) edit {
	return func(t *testing.T, s string) (string, int) {
		out, _ := set(anchor, field, value)(t, s)
		a := strings.Index(s, anchor)
		k := strings.Index(s[topRecord(s, a):], `"`+field+`":`) + topRecord(s, a)
		return out, lineAt(s, k)
	}
}

// set sets the value of field in the JSON record that anchor (a unique
// text such as the record's id) is in; value is raw JSON, or "" to drop
// the field. The message names the line the record starts on.
func set(anchor, field, value string) edit {
	return func(t *testing.T, s string) (string, int) {
		t.Helper()
		a := strings.Index(s, anchor)
		if a < 0 || strings.Count(s, anchor) != 1 {
			t.Fatalf("anchor %q occurs %d times, not once", anchor, strings.Count(s, anchor))
		}
		start := topRecord(s, a)
		end := valueEnd(s, start)
		key := `"` + field + `":`
		k := strings.Index(s[start:end], key)
		if k < 0 {
			t.Fatalf("no %s in the record of %q", key, anchor)
		}
		k += start
		v := k + len(key)
		for s[v] == ' ' {
			v++
		}
		ve := valueEnd(s, v)
		if value == "" {
			// Drop the field and its comma.
			ks, ke := k, ve
			if rest := strings.TrimLeft(s[ke:], " "); strings.HasPrefix(rest, ",") {
				ke = len(s) - len(rest) + 1
			} else {
				for ks > 0 && s[ks-1] != ',' {
					ks--
				}
				ks--
			}
			return s[:ks] + s[ke:], lineAt(s, start)
		}
		return s[:v] + value + s[ve:], lineAt(s, start)
	}
}

// onLine rewrites the one line holding anchor.
func onLine(anchor string, fn func(string) string) edit {
	return func(t *testing.T, s string) (string, int) {
		t.Helper()
		a := strings.Index(s, anchor)
		if a < 0 {
			t.Fatalf("no %q", anchor)
		}
		ls := strings.LastIndexByte(s[:a], '\n') + 1
		le := strings.IndexByte(s[a:], '\n')
		if le < 0 {
			le = len(s)
		} else {
			le += a
		}
		return s[:ls] + fn(s[ls:le]) + s[le:], lineAt(s, a)
	}
}

// csvCell sets column col (0-based) of the CSV line holding anchor.
func csvCell(anchor string, col int, value string) edit {
	return onLine(anchor, func(l string) string {
		cells := strings.Split(l, ",")
		cells[col] = value
		return strings.Join(cells, ",")
	})
}

// whole rewrites the whole file; the message names the file.
func whole(fn func(string) string) edit {
	return func(t *testing.T, s string) (string, int) { return fn(s), 0 }
}

// at rewrites the whole file and names a fixed line.
func at(line int, fn func(string) string) edit {
	return func(t *testing.T, s string) (string, int) { return fn(s), line }
}

// keepRecords keeps the first n records of a JSON list whose records
// start with prefix ("\n    {" for Jamf), with the list still closed.
func keepRecords(prefix string, n int, closing string) func(string) string {
	return func(s string) string {
		parts := strings.Split(s, prefix)
		return strings.TrimRight(strings.Join(parts[:n+1], prefix), ",\n ") + closing
	}
}

func keepLines(n int) func(string) string {
	return func(s string) string {
		lines := strings.SplitAfter(s, "\n")
		return strings.Join(lines[:n], "")
	}
}

func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

var big = `"` + strings.Repeat("A", 100<<10) + `"`

// The records the variants damage are the ones with a story: a finding
// that bad data must neither resolve nor duplicate.
const (
	jamfGByrne  = `"udid": "` // completed below
	gbyrneName  = `"name": "MBP-GBYRNE"`
	ebianchi    = `"name": "MBP-EBIANCHI"`
	tberg       = `"name": "MBP-TBERG"`
	aokafor     = `"device_id": "405f74dd247218bbe7fbca65d0c04937"`
	arossi      = `"hostname": "MBP-AROSSI"`
	nsantosEDR  = `"hostname": "LT-NSANTOS"`
	nsantos     = `"deviceName": "LT-NSANTOS"`
	mmoreau     = `"deviceName": "LT-MMOREAU"`
	omarChen    = `"login": "omar.chen@acme.com"`
	zaraPetrov  = `"login": "zara.petrov@acme.io"`
	liamReport  = `"id": "5ddec076a7235db75a471ec9"`
	meiCand     = `"custom_id": "001138"`
	liamCand    = `"id": "ed9f2274d5c1f777f6bf65fb"`
	omarFactors = `"userId":"00u8QG4MMRZFDFV7CQDJ"`
	isaacFact   = `"userId":"00u7EHQZVLLWXG536UYX"`
)

func jsonVariants(src, file, rec, textField, typedField string) []variant {
	// rec is an anchor inside one record whose entity has a finding.
	return []variant{
		{name: "text field is a number", source: src, file: file, edit: set(rec, textField, "1"), want: skip, msg: "is a number where"},
		{name: "text field holds a NUL", source: src, file: file, edit: set(rec, textField, `"MBP\u0000X"`), want: skip, msg: "NUL"},
		{name: "text field is not UTF-8", source: src, file: file, edit: set(rec, textField, "\"MBP-\xff\xfe\""), want: skip, msg: "not valid UTF-8"},
		{name: "text field is 100 KB", source: src, file: file, edit: set(rec, textField, big), want: skip, msg: "more than the limit"},
		{name: "text field is an object", source: src, file: file, edit: set(rec, textField, `{"a": 1}`), want: skip, msg: "an object"},
		{name: "typed field is the wrong type", source: src, file: file, edit: set(rec, typedField, `"yesterday"`), want: skip, msg: "yesterday"},
		{name: "trailing comma in a record", source: src, file: file, edit: replace(rec, rec+",,", 1), want: fail, msg: "malformed JSON"},
		{name: "raw NUL byte in a record", source: src, file: file, edit: replace(rec, strings.Replace(rec, `"`, "\"\x00", 1), 1), want: fail, msg: "malformed JSON"},
		{name: "nesting 10,000 levels deep", source: src, file: file, edit: fieldLine(rec, textField, deep(10001)), want: fail, msg: "malformed JSON"},
		{name: "byte order mark", source: src, file: file, edit: whole(func(s string) string { return "\ufeff" + s }), want: accept},
		{name: "CRLF line ends", source: src, file: file, edit: whole(func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }), want: accept},
		{name: "an HTML error page", source: src, file: file, edit: whole(func(string) string {
			return "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>\n"
		}), want: fail, msg: `"502 Bad Gateway"`},
		{name: "truncated", source: src, file: file, edit: whole(func(s string) string { return s[:len(s)/2] }), want: fail, msg: "unexpected end of JSON input"},
		{name: "empty file", source: src, file: file, edit: whole(func(string) string { return "" }), want: fail, msg: "empty"},
	}
}

func catalogue() []variant {
	var vs []variant
	add := func(v ...variant) { vs = append(vs, v...) }

	// Jamf Pro computers inventory.
	add(jsonVariants("jamf", "jamf/computers-inventory.json", gbyrneName, "name", "lastContactTime")...)
	add(
		variant{name: "serial is null", source: "jamf", file: "jamf/computers-inventory.json", edit: set(ebianchi, "serialNumber", `null`), want: accept},
		variant{name: "serial is empty", source: "jamf", file: "jamf/computers-inventory.json", edit: set(ebianchi, "serialNumber", `""`), want: accept},
		variant{name: "no identity key at all", source: "jamf", file: "jamf/computers-inventory.json", edit: func(t *testing.T, s string) (string, int) {
			// MBP-TBERG's record loses its name, serial and MACs: nothing
			// says which laptop it is.
			s, line := set(tberg, "name", `""`)(t, s)
			a := strings.Index(s, `"name": ""`)
			rec := s[topRecord(s, a):]
			for _, k := range []string{"serialNumber", "macAddress", "altMacAddress"} {
				i := strings.Index(rec, `"`+k+`": "`)
				j := strings.IndexByte(rec[i+len(k)+5:], '"')
				rec = rec[:i+len(k)+5] + rec[i+len(k)+5+j:]
			}
			return s[:topRecord(s, a)] + rec, line
		}, want: skip, msg: "name is empty"},
		variant{name: "udid missing", source: "jamf", file: "jamf/computers-inventory.json", edit: func(t *testing.T, s string) (string, int) {
			a := strings.Index(s, ebianchi)
			st := topRecord(s, a) // general's parent
			u := strings.Index(s[st:], `"udid": `) + st
			return s[:u] + `"udidx": ` + s[u+len(`"udid": `):], lineAt(s, st)
		}, want: skip, msg: "no id at udid"},
		variant{name: "totalCount disagrees", source: "jamf", file: "jamf/computers-inventory.json", edit: noLine(replace(`"totalCount": 174`, `"totalCount": 175`, 1)), want: fail, msg: "totalCount says the API holds 175 records but the document has 174"},
		variant{name: "half the computers", source: "jamf", file: "jamf/computers-inventory.json", edit: whole(func(s string) string {
			s = keepRecords("\n    {", 87, "\n  ]\n}\n")(s)
			return strings.Replace(s, `"totalCount": 174`, `"totalCount": 87`, 1)
		}), want: shrunk, msg: "fewer than the last good sync"},
		variant{name: "records path missing", source: "jamf", file: "jamf/computers-inventory.json", edit: noLine(replace(`"results": [`, `"result": [`, 1)), want: fail, msg: `no "results" in the document`},
		variant{name: "records is an object", source: "jamf", file: "jamf/computers-inventory.json", edit: whole(func(string) string { return `{"totalCount": 0, "results": {}}` }), want: fail, msg: "not a list of records"},
		variant{name: "a record is a string", source: "jamf", file: "jamf/computers-inventory.json", edit: func(t *testing.T, s string) (string, int) {
			s, _ = replace(`"totalCount": 174`, `"totalCount": 175`, 1)(t, s)
			s, _ = replace("\n  \"results\": [\n", "\n  \"results\": [\n    \"oops\",\n", 1)(t, s)
			return s, 4
		}, want: skip, msg: "record is a string, not an object"},
	)
	// The ebianchi record's FileVault status is nested; damage it there.
	add(variant{name: "filevault status is a number", source: "jamf", file: "jamf/computers-inventory.json", edit: func(t *testing.T, s string) (string, int) {
		a := strings.Index(s, ebianchi)
		st := topRecord(s, a)
		f := strings.Index(s[st:], `"fileVault2Status": "`) + st
		e := valueEnd(s, f+len(`"fileVault2Status": `))
		return s[:f] + `"fileVault2Status": 0` + s[e:], lineAt(s, st)
	}, want: skip, msg: "is a number where"})

	// CrowdStrike Falcon devices.
	add(jsonVariants("edr", "crowdstrike/devices.json", aokafor, "hostname", "last_seen")...)
	add(
		variant{name: "status is a number", source: "edr", file: "crowdstrike/devices.json", edit: set(arossi, "status", "1"), want: skip, msg: "is a number where"},
		variant{name: "device_id empty", source: "edr", file: "crowdstrike/devices.json", edit: set(arossi, "device_id", `""`), want: skip, msg: "no id at device_id"},
		variant{name: "device_id is null", source: "edr", file: "crowdstrike/devices.json", edit: set(nsantosEDR, "device_id", `null`), want: skip, msg: "no id at device_id"},
		variant{name: "API errors with an empty list", source: "edr", file: "crowdstrike/devices.json", edit: whole(func(string) string {
			return `{"meta": {"query_time": 0.01, "trace_id": "x"}, "errors": [{"code": 403, "message": "access denied, authorization failed"}], "resources": []}`
		}), want: fail, msg: `"access denied, authorization failed (code 403)"`},
		variant{name: "API errors with records", source: "edr", file: "crowdstrike/devices.json", edit: noLine(replace(`"errors": [],`, `"errors": [{"code": 500, "message": "internal error"}],`, 1)), want: fail, msg: `"internal error (code 500)"`},
		variant{name: "empty list and no error", source: "edr", file: "crowdstrike/devices.json", edit: whole(func(string) string {
			return `{"meta": {"query_time": 0.01}, "errors": [], "resources": []}`
		}), want: shrunk, msg: "fewer than the last good sync"},
		variant{name: "mac address is a list", source: "edr", file: "crowdstrike/devices.json", edit: set(arossi, "mac_address", `["a4-83-e7-00-00-01"]`), want: skip, msg: "a list"},
		variant{name: "agent version is a number", source: "edr", file: "crowdstrike/devices.json", edit: set(arossi, "agent_version", `7.18`), want: skip, msg: "is a number where"},
	)

	// Intune managed devices (Microsoft Graph).
	add(jsonVariants("intune", "intune/managedDevices.json", nsantos, "deviceName", "lastSyncDateTime")...)
	add(
		variant{name: "isEncrypted is text", source: "intune", file: "intune/managedDevices.json", edit: set(mmoreau, "isEncrypted", `"maybe"`), want: skip, msg: "not true or false"},
		variant{name: "Graph error body", source: "intune", file: "intune/managedDevices.json", edit: whole(func(string) string {
			return `{"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid.", "innerError": {"date": "2026-11-30T09:00:00"}}}`
		}), want: fail, msg: `"Access token has expired or is not yet valid." (code InvalidAuthenticationToken)`},
		variant{name: "id is a number", source: "intune", file: "intune/managedDevices.json", edit: set(mmoreau, "id", `42`), want: skip, msg: "is a number where"},
	)

	// Okta users.
	add(jsonVariants("okta", "okta/users.json", zaraPetrov, "status", "lastLogin")...)
	add(
		variant{name: "Okta error object", source: "okta", file: "okta/users.json", edit: whole(func(string) string {
			return `{"errorCode": "E0000011", "errorSummary": "Invalid token provided", "errorLink": "E0000011", "errorId": "oaeXyz", "errorCauses": []}`
		}), want: fail, msg: `"Invalid token provided" (errorCode E0000011)`},
		variant{name: "rate limit error", source: "okta", file: "okta/users.json", edit: whole(func(string) string {
			return `{"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests.", "errorCauses": []}`
		}), want: fail, msg: "E0000047"},
		variant{name: "login is a number", source: "okta", file: "okta/users.json", edit: set(omarChen, "login", `12345`), want: skip, msg: "is a number where"},
		variant{name: "id is empty", source: "okta", file: "okta/users.json", edit: func(t *testing.T, s string) (string, int) {
			a := strings.Index(s, omarChen)
			st := topRecord(s, a)
			i := strings.Index(s[st:], `"id": "`) + st
			e := valueEnd(s, i+len(`"id": `))
			return s[:i] + `"id": ""` + s[e:], lineAt(s, st)
		}, want: skip, msg: "no id at id"},
		variant{name: "profile object missing", source: "okta", file: "okta/users.json", edit: func(t *testing.T, s string) (string, int) {
			a := strings.Index(s, omarChen)
			p := recordStart(s, a)
			st := topRecord(s, a)
			k := strings.LastIndex(s[:p], `"profile":`)
			e := valueEnd(s, p)
			return s[:k] + `"profilex": null` + s[e:], lineAt(s, st)
		}, want: skip, msg: "name is empty"},
		variant{name: "a top-level object", source: "okta", file: "okta/users.json", edit: whole(func(s string) string { return `{"users": ` + s + `}` }), want: fail, msg: "set from.records"},
	)

	// Checkr reports and candidates.
	add(jsonVariants("checkr_reports", "checkr/reports.json", liamReport, "status", "created_at")...)
	add(
		variant{name: "report status is the number 1", source: "checkr_reports", file: "checkr/reports.json", edit: set(liamReport, "status", `1`), want: skip, msg: "is a number where"},
		variant{name: "report result is an object", source: "checkr_reports", file: "checkr/reports.json", edit: set(liamReport, "result", `{"x": 1}`), want: skip, msg: "an object"},
		variant{name: "count disagrees", source: "checkr_reports", file: "checkr/reports.json", edit: noLine(replace(`"count": 197`, `"count": 200`, 1)), want: fail, msg: "count says the API holds 200 records but the document has 197"},
		variant{name: "error string", source: "checkr_reports", file: "checkr/reports.json", edit: whole(func(string) string { return `{"error": "Not authorized"}` }), want: fail, msg: `"Not authorized"`},
		variant{name: "candidate custom_id is a number", source: "checkr", file: "checkr/candidates.json", edit: set(meiCand, "custom_id", `1138`), want: skip, msg: "is a number where", quiet: true},
		variant{name: "candidate email holds a NUL", source: "checkr", file: "checkr/candidates.json", edit: set(liamCand, "email", `"liam\u0000@x.com"`), want: skip, msg: "NUL", quiet: true},
		variant{name: "candidates trailing comma", source: "checkr", file: "checkr/candidates.json", edit: replace(liamCand, liamCand+",", 1), want: fail, msg: "malformed JSON"},
		variant{name: "candidates HTML page", source: "checkr", file: "checkr/candidates.json", edit: whole(func(string) string {
			return "<html><head><title>Checkr | Maintenance</title></head></html>"
		}), want: fail, msg: "HTML page"},
	)

	// Okta factors: NDJSON, one user per line.
	const factors = "okta/factors.ndjson"
	add(
		variant{name: "a line is not JSON", source: "okta_factors", file: factors, edit: onLine(omarFactors, func(l string) string { return l[:len(l)/2] }), want: skip, msg: "malformed JSON"},
		variant{name: "a line has a trailing comma", source: "okta_factors", file: factors, edit: onLine(omarFactors, func(l string) string { return l[:len(l)-1] + ",}" }), want: skip, msg: "malformed JSON"},
		variant{name: "factors is an object", source: "okta_factors", file: factors, edit: onLine(omarFactors, func(l string) string {
			return omarFactorsLine(l, `{"factorType": "sms"}`)
		}), want: skip, msg: "is not a list"},
		variant{name: "factors holds a NUL", source: "okta_factors", file: factors, edit: onLine(isaacFact, func(l string) string {
			return strings.Replace(l, `"factors":[`, `"factors":["\u0000",`, 1)
		}), want: skip, msg: "NUL"},
		variant{name: "userId is a number", source: "okta_factors", file: factors, edit: onLine(omarFactors, func(l string) string {
			return strings.Replace(l, `"userId":"00u8QG4MMRZFDFV7CQDJ"`, `"userId":8`, 1)
		}), want: skip, msg: "is a number where"},
		variant{name: "userId missing", source: "okta_factors", file: factors, edit: onLine(omarFactors, func(l string) string {
			return strings.Replace(l, `"userId":`, `"user":`, 1)
		}), want: skip, msg: "no id at userId"},
		variant{name: "a blank line", source: "okta_factors", file: factors, edit: onLine(omarFactors, func(l string) string { return "\n" + l }), want: accept},
		variant{name: "CRLF line ends", source: "okta_factors", file: factors, edit: whole(func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }), want: accept},
		variant{name: "a binary line", source: "okta_factors", file: factors, edit: onLine(omarFactors, func(string) string { return "\x00\x01\x02\xff" }), want: skip, msg: "malformed JSON"},
		variant{name: "half the lines", source: "okta_factors", file: factors, edit: whole(keepLines(100)), want: shrunk, msg: "fewer than the last good sync"},
		variant{name: "a 100 KB line", source: "okta_factors", file: factors, edit: onLine(omarFactors, func(l string) string {
			return strings.Replace(l, `"factors":[`, `"junk":`+big+`,"factors":[`, 1)
		}), want: accept},
	)

	// HR: CSV.
	const hr = "hr/people.csv"
	add(
		variant{name: "status with spaces around it", source: "hr", file: hr, edit: csvCell("001130,Theo,Berg", 9, "  Terminated "), want: accept},
		variant{name: "email with spaces around it", source: "hr", file: hr, edit: csvCell("001138,Mei", 3, " mei.nakamura@acme.com "), want: accept},
		variant{name: "all statuses padded", source: "hr", file: hr, edit: whole(func(s string) string {
			return strings.NewReplacer(",Active,", ", Active  ,", ",Terminated,", ", Terminated ,").Replace(s)
		}), want: accept},
		variant{name: "unterminated quote", source: "hr", file: hr, edit: csvCell("001130,Theo,Berg", 5, `"Support Specialist`), want: fail, msg: "a quoted value opens on this line"},
		variant{name: "quote closed a line later", source: "hr", file: hr, edit: func(t *testing.T, s string) (string, int) {
			s, line := csvCell("001130,Theo,Berg", 5, `"Support Specialist`)(t, s)
			s, _ = csvCell("001131,", 5, `x"`)(t, s)
			return s, line
		}, want: fail, msg: "a quote is probably not closed"},
		variant{name: "duplicate header", source: "hr", file: hr, edit: replace("Location,", "Department,", 1), want: fail, msg: `the header names column "Department" twice`},
		variant{name: "Windows-1252", source: "hr", file: hr, edit: func(t *testing.T, s string) (string, int) {
			s, line := csvCell("001130,Theo,Berg", 2, "B\xe9rg")(t, s)
			return s, line
		}, want: fail, msg: "not UTF-8"},
		variant{name: "Windows-1252 declared", source: "hr", file: hr, edit: whole(func(s string) string {
			return strings.Replace(s, "001130,Theo,Berg", "001130,Th\xe9o,Berg", 1)
		}), want: accept, config: func(y string) string {
			return strings.Replace(y, "from: { file: exports/hr/people.csv }", "from: { file: exports/hr/people.csv, encoding: windows-1252 }", 1)
		}},
		variant{name: "UTF-16 declared", source: "hr", file: hr, edit: whole(utf16), want: accept, config: func(y string) string {
			return strings.Replace(y, "from: { file: exports/hr/people.csv }", "from: { file: exports/hr/people.csv, encoding: utf-16 }", 1)
		}},
		variant{name: "UTF-16 undeclared", source: "hr", file: hr, edit: at(1, utf16), want: fail, msg: "not UTF-8"},
		variant{name: "a row too short", source: "hr", file: hr, edit: onLine("001138,Mei", func(l string) string { return l[:strings.LastIndexByte(l, ',')] }), want: skip, msg: "the row has 11 fields but the header has 12"},
		variant{name: "a row too long", source: "hr", file: hr, edit: onLine("001138,Mei", func(l string) string { return l + ",extra" }), want: skip, msg: "the row has 13 fields"},
		variant{name: "hire date is not a date", source: "hr", file: hr, edit: csvCell("001138,Mei", 7, "last month"), want: skip, msg: `"last month" is not a time`},
		variant{name: "hire date empty", source: "hr", file: hr, edit: csvCell("001138,Mei", 7, ""), want: skip, msg: "required field is empty"},
		variant{name: "employee id empty", source: "hr", file: hr, edit: csvCell("001138,Mei", 0, ""), want: skip, msg: "no id at Employee ID"},
		variant{name: "a NUL in a name", source: "hr", file: hr, edit: csvCell("001138,Mei", 2, "Naka\x00mura"), want: skip, msg: "NUL"},
		variant{name: "a 100 KB cell", source: "hr", file: hr, edit: csvCell("001138,Mei", 5, strings.Repeat("x", 100<<10)), want: skip, msg: "more than the limit"},
		variant{name: "byte order mark", source: "hr", file: hr, edit: whole(func(s string) string { return "\ufeff" + s }), want: accept},
		variant{name: "CRLF line ends", source: "hr", file: hr, edit: whole(func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }), want: accept},
		variant{name: "header with spaces", source: "hr", file: hr, edit: replace("Employment Status,", " Employment Status ,", 1), want: accept},
		variant{name: "half the people", source: "hr", file: hr, edit: whole(keepLines(101)), want: shrunk, msg: "fewer than the last good sync"},
		variant{name: "only a header", source: "hr", file: hr, edit: whole(keepLines(1)), want: shrunk, msg: "fewer than the last good sync"},
		variant{name: "empty file", source: "hr", file: hr, edit: whole(func(string) string { return "" }), want: fail, msg: "the file is empty"},
		variant{name: "a missing column", source: "hr", file: hr, edit: replace("Work Email", "Email", 1), want: fail, msg: `the header has no column "Work Email"`},
		variant{name: "a blank line", source: "hr", file: hr, edit: onLine("001138,Mei", func(l string) string { return "\n" + l }), want: accept},
		variant{name: "an HTML page", source: "hr", file: hr, edit: whole(func(string) string { return "<html><body>Session expired</body></html>\n" }), want: fail, msg: "the header has no column"},
	)

	// The software catalog: CSV kept by hand.
	const catalog = "catalog/latest-versions.csv"
	add(
		variant{name: "latest version empty", source: "catalog", file: catalog, edit: csvCell("Docker Desktop,", 3, ""), want: fail, msg: "too many malformed records"},
		variant{name: "latest version empty, limit 20 percent", source: "catalog", file: catalog, edit: csvCell("Docker Desktop,", 3, ""), want: skip, msg: "required field is empty", config: catalogLimit},
		variant{name: "bundle id empty, limit 20 percent", source: "catalog", file: catalog, edit: csvCell("Mozilla Firefox,", 1, ""), want: skip, msg: "no id at bundle_id", config: catalogLimit},
		variant{name: "latest version padded", source: "catalog", file: catalog, edit: csvCell("Docker Desktop,", 3, " 4.36.0  "), want: accept},
		variant{name: "bundle id padded", source: "catalog", file: catalog, edit: csvCell("Google Chrome,", 1, " com.google.Chrome "), want: accept},
		variant{name: "released is not a date", source: "catalog", file: catalog, edit: csvCell("Microsoft Teams,", 4, "soon"), want: fail, msg: `"soon" is not a time`},
		variant{name: "bundle id empty", source: "catalog", file: catalog, edit: csvCell("Mozilla Firefox,", 1, ""), want: fail, msg: "too many malformed records"},
		variant{name: "unterminated quote", source: "catalog", file: catalog, edit: csvCell("Slack,", 0, `"Slack`), want: fail, msg: "a quoted value opens on this line"},
		variant{name: "duplicate header", source: "catalog", file: catalog, edit: replace("windows_name", "name", 1), want: fail, msg: `the header names column "name" twice`},
		variant{name: "Windows-1252", source: "catalog", file: catalog, edit: csvCell("Zoom Workplace,", 2, "Zoom Workpl\xe2ce"), want: fail, msg: "not UTF-8"},
		variant{name: "semicolons", source: "catalog", file: catalog, edit: at(1, func(s string) string { return strings.ReplaceAll(s, ",", ";") }), want: fail, msg: "the header has no column"},
		variant{name: "a row too long", source: "catalog", file: catalog, edit: onLine("Zoom Workplace,", func(l string) string { return l + ",x" }), want: fail, msg: "too many malformed records: 1 of 8"},
	)

	// osquery results log: line oriented.
	const osq = "osquery/osqueryd.results.log"
	add(
		variant{name: "a line cut short", source: "osquery", file: osq, edit: onLine(`"hostIdentifier":"MBP-RMURPHY2"`, func(l string) string { return l[:len(l)/2] }), want: skip, msg: "malformed JSON"},
		variant{name: "a line that is not JSON", source: "osquery", file: osq, edit: onLine(`"hostIdentifier":"MBP-BLISKOV"`, func(string) string { return "Segmentation fault" }), want: skip, msg: "not a JSON object"},
		variant{name: "no hostIdentifier", source: "osquery", file: osq, edit: onLine(`"hostIdentifier":"LT-MMOREAU"`, func(l string) string {
			return strings.Replace(l, `"hostIdentifier":"LT-MMOREAU"`, `"host":"LT-MMOREAU"`, 1)
		}), want: skip, msg: "no hostIdentifier"},
		variant{name: "a trailing comma", source: "osquery", file: osq, edit: onLine(`"hostIdentifier":"MBP-BLISKOV"`, func(l string) string { return l[:len(l)-1] + ",}" }), want: skip, msg: "malformed JSON"},
		variant{name: "a blank line", source: "osquery", file: osq, edit: onLine(`"hostIdentifier":"MBP-BLISKOV"`, func(l string) string { return "\n" + l }), want: accept},
		variant{name: "CRLF line ends", source: "osquery", file: osq, edit: whole(func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }), want: accept},
		variant{name: "half the hosts", source: "osquery", file: osq, edit: whole(keepLines(104)), want: shrunk, msg: "fewer than the last good sync"},
		variant{name: "a NUL in a version", source: "osquery", file: osq, edit: onLine(`"hostIdentifier":"MBP-RMURPHY2"`, func(l string) string {
			return strings.Replace(l, `"version":"4.34.2"`, `"version":"4.34\u00002"`, 1)
		}), want: skip, msg: "NUL"},
	)
	return vs
}

// catalogLimit lets the catalog, eight rows, skip one bad row instead of
// failing by the default limit of 5% malformed records.
func catalogLimit(y string) string {
	return strings.Replace(y, "from: { file: exports/catalog/latest-versions.csv }", "from: { file: exports/catalog/latest-versions.csv }\n    health: { max_bad_records: 0.2 }", 1)
}

// omarFactorsLine replaces the factors list of a factors line.
func omarFactorsLine(l, with string) string {
	i := strings.Index(l, `"factors":`) + len(`"factors":`)
	return l[:i] + with + l[valueEnd(l, i):]
}

// utf16 writes a file as UTF-16 little endian with a byte order mark.
func utf16(s string) string {
	var b strings.Builder
	b.WriteString("\xff\xfe")
	for _, r := range s {
		if r > 0xffff {
			r = '?'
		}
		b.WriteByte(byte(r))
		b.WriteByte(byte(r >> 8))
	}
	return b.String()
}

// TestCatalogue runs every variant against a copy of the example that has
// been synced and evaluated once: the variant's file replaces the good
// one, its source is synced again, the outcome and the place its message
// names are checked, and an evaluation must leave the ledger as it was.
func TestCatalogue(t *testing.T) {
	vs := catalogue()
	if len(vs) < 100 {
		t.Fatalf("the catalogue holds %d variants, fewer than 100", len(vs))
	}
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v.source+"/"+v.name] {
			t.Fatalf("two variants are called %s/%s", v.source, v.name)
		}
		seen[v.source+"/"+v.name] = true
	}
	ctx := context.Background()
	base := t.TempDir()
	if err := examples.CopyTo(examples.Acme(), base); err != nil {
		t.Fatal(err)
	}
	func() {
		db, err := store.Open(ctx, filepath.Join(base, "onus.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		m := newMonitor(t, base, db)
		if rep, err := m.Sync(ctx, monitor.SyncOptions{}); err != nil || rep.Failed() {
			t.Fatalf("the example does not sync cleanly: %v %+v", err, rep)
		}
		if _, err := m.Eval(ctx, orggen.AcmeNow, nil); err != nil {
			t.Fatal(err)
		}
	}()
	counts := map[outcome]int{}
	for _, v := range vs {
		counts[v.want]++
		t.Run(v.source+"/"+v.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "exports", filepath.FromSlash(v.file))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out, line := v.edit(t, string(b))
			if out == string(b) {
				t.Fatal("the edit changed nothing")
			}
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			if v.config != nil {
				yp := filepath.Join(dir, "onus.yaml")
				y, _ := os.ReadFile(yp)
				ny := v.config(string(y))
				if ny == string(y) {
					t.Fatal("the configuration edit changed nothing")
				}
				os.WriteFile(yp, []byte(ny), 0o644)
			}
			db, err := store.Open(ctx, filepath.Join(dir, "onus.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			m := newMonitor(t, dir, db)
			rep, err := m.Sync(ctx, monitor.SyncOptions{Only: []string{v.source}})
			if err != nil {
				t.Fatal(err)
			}
			sr := rep.Sources[0]
			where := "exports/" + v.file
			if line > 0 {
				where += fmt.Sprintf(":%d", line)
			}
			var msg string
			switch v.want {
			case accept:
				if sr.Status != onus.SyncOK || sr.Bad != 0 {
					t.Fatalf("want %s, got %s with %d bad records: %s %v", v.want, sr.Status, sr.Bad, sr.Error, sr.Problems)
				}
			case skip:
				if sr.Status != onus.SyncOK || sr.Bad != 1 {
					t.Fatalf("want one record skipped, got %s with %d bad records: %s %v", sr.Status, sr.Bad, sr.Error, sr.Problems)
				}
				msg = sr.Problems[0].Error()
			case fail:
				if sr.Status != onus.SyncFailed {
					t.Fatalf("want the source failed, got %s with %d bad: %v", sr.Status, sr.Bad, sr.Problems)
				}
				msg = sr.Error
			case shrunk:
				if sr.Status != onus.SyncSuspicious {
					t.Fatalf("want the source held as shrunk, got %s: %s", sr.Status, sr.Error)
				}
				msg = sr.Error
				where = ""
			}
			if v.want != accept {
				if !strings.Contains(msg, where) {
					t.Errorf("the message does not name %s:\n%s", where, msg)
				}
				if !strings.Contains(msg, v.msg) {
					t.Errorf("the message does not say %q:\n%s", v.msg, msg)
				}
			}
			if raceBuild && (v.want == fail || v.want == shrunk) {
				return
			}
			erep, err := m.Eval(ctx, orggen.AcmeNow, nil)
			if err != nil {
				t.Fatal(err)
			}
			ch := erep.Changes
			if ch.Opened+ch.Reopened+ch.Resolved+ch.Gone+ch.Reassigned != 0 {
				t.Errorf("the variant changed the ledger: %+v", ch)
			}
			if v.want == skip && !v.quiet && ch.StillUnknown == 0 && unknowns(erep) == 0 {
				t.Errorf("a record was skipped but no result is unknown")
			}
		})
	}
	t.Logf("%d variants: %v", len(vs), counts)
}

func unknowns(rep *monitor.EvalReport) int {
	n := 0
	for _, c := range rep.Controls {
		n += c.Unknown
	}
	return n
}

func newMonitor(t *testing.T, dir string, db *store.DB) *monitor.Monitor {
	t.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &monitor.Monitor{Config: cfg, Store: db, Actor: "test"}
}
