package identity_test

import (
	"strings"
	"testing"

	"github.com/onus-sec/onus/identity"
)

func TestNormalize(t *testing.T) {
	n := identity.New(identity.Options{
		EmailAliases: map[string]string{"acme.io": "acme.com", "ACME-corp.com": "acme.com"},
		Junk:         []string{"CHANGE ME"},
		Types:        map[string]string{"asset_tag": "serial"},
	})
	tests := []struct {
		key, in, want string
	}{
		// Serials: vendors pad, lower-case and leave placeholders.
		{"serial", " c02zc2qylvdl ", "C02ZC2QYLVDL"},
		{"serial", "C02 ZC2 QYLVDL", "C02ZC2QYLVDL"},
		{"serial", "To Be Filled By O.E.M.", ""},
		{"serial", "System Serial Number", ""},
		{"serial", "0000000", ""},
		{"serial", "Default string", ""},
		{"serial", "", ""},
		{"serial", "GoogleCloud-4BFE83AC0B49D497BC94B053718181C9", "GOOGLECLOUD-4BFE83AC0B49D497BC94B053718181C9"},
		{"serial", "change me", ""}, // organisation junk
		{"asset_tag", "ab 12", "AB12"},
		// MACs in every notation seen in exports.
		{"mac", "6A:2C:4B:B7:65:B5", "6a:2c:4b:b7:65:b5"},
		{"mac", "42-01-0a-80-00-15", "42:01:0a:80:00:15"},
		{"mac", "4201.0a80.0015", "42:01:0a:80:00:15"},
		{"mac", "42010A800015", "42:01:0a:80:00:15"},
		{"mac", "00:00:00:00:00:00", ""},
		{"mac", "ff:ff:ff:ff:ff:ff", ""},
		{"mac", "42:01:0a:80:00", ""},
		{"mac", "42:01:0a:80:00:15:16", ""},
		{"mac", "zz:01:0a:80:00:15", ""},
		// Hostnames: case and domains differ between MDM, EDR and osquery.
		{"hostname", "MBP-Jane.corp.acme.com", "mbp-jane"},
		{"hostname", "mbp-jane.local.", "mbp-jane"},
		{"hostname", "FALCON-CROWDSTR", "falcon-crowdstr"},
		{"hostname", "10.128.0.21", ""},
		{"hostname", "localhost", ""},
		// E-mails: case, display names, alias domains.
		{"email", " Jane.Doe@ACME.com ", "jane.doe@acme.com"},
		{"email", "jane.doe@acme.io", "jane.doe@acme.com"},
		{"email", "Jane Doe <jane.doe@acme-corp.com>", "jane.doe@acme.com"},
		{"email", "mailto:jane.doe@acme.com", "jane.doe@acme.com"},
		{"email", "jane.doe+mdm@acme.com", "jane.doe+mdm@acme.com"},
		{"email", "not an email", ""},
		{"email", "@acme.com", ""},
		// Usernames.
		{"username", "ACME\\JDoe", "jdoe"},
		{"username", "jdoe", "jdoe"},
		{"username", "root", ""},
		// UUIDs.
		{"uuid", "{40443DD9-5B21-A345-8F89-AADDE84C3719}", "40443dd9-5b21-a345-8f89-aadde84c3719"},
		{"uuid", "40443dd95b21a3458f89aadde84c3719", "40443dd9-5b21-a345-8f89-aadde84c3719"},
		{"uuid", "03000200-0400-0500-0006-000700080009", ""},
		{"uuid", "00000000-0000-0000-0000-000000000000", ""},
		{"uuid", "123", ""},
		// Employee ids: zero padding differs between HR and the IdP.
		{"employee_id", "000187", "187"},
		{"employee_id", "187", "187"},
		{"employee_id", "e-0042", "E-0042"},
		{"employee_id", "0000", ""},
		// IPs.
		{"ip", "::ffff:10.0.0.1", "10.0.0.1"},
		{"ip", "0.0.0.0", ""},
		// Unknown key names are trimmed text.
		{"okta_id", " 00u1f96ECLNVOKVMUSEA ", "00u1f96ECLNVOKVMUSEA"},
		{"name", "  Google   Chrome ", "google chrome"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.in, func(t *testing.T) {
			if got := n.Normalize(tt.key, tt.in); got != tt.want {
				t.Errorf("Normalize(%q, %q) = %q, want %q", tt.key, tt.in, got, tt.want)
			}
		})
	}
}

func TestStripPlus(t *testing.T) {
	n := identity.New(identity.Options{StripPlus: true})
	if got, want := n.Normalize("email", "Jane.Doe+MDM@acme.com"), "jane.doe@acme.com"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzMAC(f *testing.F) {
	for _, s := range []string{"6A:2C:4B:B7:65:B5", "42-01-0a-80-00-15", "4201.0a80.0015", "", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := identity.MAC(s)
		if got == "" {
			return
		}
		// A canonical MAC is a fixed point and has the canonical shape.
		if identity.MAC(got) != got || len(got) != 17 {
			t.Fatalf("MAC(%q) = %q is not canonical", s, got)
		}
	})
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{"jane@acme.com", "Jane <jane@acme.com>", "a@b", "@", "<>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := identity.Email(s)
		if got != "" && identity.Email(got) != got {
			t.Fatalf("Email(%q) = %q is not a fixed point", s, got)
		}
	})
}

func TestJunkSaysWhy(t *testing.T) {
	n := identity.New(identity.Options{Junk: []string{"lab-mac-*", "ASSET-NONE"}, Types: map[string]string{"asset_tag": "serial"}})
	tests := []struct {
		key, in, want, why string
	}{
		{"hostname", "MacBook-Pro", "", "factory host name"},
		{"hostname", "MacBook-Air.local", "", "factory host name"},
		{"hostname", "MacBook-Pro-2", "", "factory host name"},
		{"hostname", "iMac", "", "factory host name"},
		{"hostname", "Mac-mini", "", "factory host name"},
		{"hostname", "localhost.localdomain", "", "factory host name"},
		{"hostname", "Jane’s MacBook Pro", "janes-macbook-pro", ""},
		{"hostname", "AWOOD-MBP.corp.acme.com.", "awood-mbp", ""},
		{"hostname", "awood-mbp.local", "awood-mbp", ""},
		{"hostname", "DESKTOP-7A1B2C3", "desktop-7a1b2c3", ""},
		{"hostname", "lab-mac-07", "", "identity.junk"},
		{"hostname", "10.0.0.4", "", "IP address"},
		{"serial", "0123456789", "", "placeholder serial"},
		{"serial", "Not Specified", "", "placeholder serial"},
		{"serial", "asset-none", "", "identity.junk"},
		{"asset_tag", "To be filled by O.E.M.", "", "placeholder serial"},
		{"mac", "AC:DE:48:00:11:22", "", "Apple T2"},
		{"mac", "00:05:9a:3c:7a:00", "", "AnyConnect"},
		{"mac", "01:00:5e:00:00:fb", "", "multicast"},
		{"mac", "00:00:00:00:00:00", "", "all-zero"},
		{"mac", "FF-FF-FF-FF-FF-FF", "", "broadcast"},
		{"mac", "not-a-mac", "", "not a MAC"},
		{"mac", "42:01:0a:80:00:15", "42:01:0a:80:00:15", ""},
		{"uuid", "00000000-0000-0000-0000-000000000000", "", "placeholder UUID"},
		{"uuid", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "", "placeholder UUID"},
		{"email", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.in, func(t *testing.T) {
			got, why := n.Why(tt.key, tt.in)
			if got != tt.want {
				t.Errorf("Why(%q, %q) = %q, want %q", tt.key, tt.in, got, tt.want)
			}
			if (tt.why == "") != (why == "") || !strings.Contains(why, tt.why) {
				t.Errorf("Why(%q, %q) says %q, want it to mention %q", tt.key, tt.in, why, tt.why)
			}
		})
	}
}

func TestStrongKeys(t *testing.T) {
	n := identity.New(identity.Options{Types: map[string]string{"asset_tag": "serial", "okta_id": "text"}})
	for key, want := range map[string]bool{"serial": true, "uuid": true, "employee_id": true, "asset_tag": true,
		"mac": false, "hostname": false, "email": false, "okta_id": false, "unknown_key": false} {
		if got := n.Strong(key); got != want {
			t.Errorf("Strong(%s) = %v, want %v", key, got, want)
		}
	}
}
