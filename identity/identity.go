// Package identity normalises identity keys so that records from different
// sources that name the same thing compare equal: serial numbers, MAC
// addresses, hostnames, e-mail addresses, usernames, hardware UUIDs,
// employee ids and IP addresses each have a canonical form.
//
// A normaliser returns "" for a value that is not a usable identity (an
// empty cell, a placeholder such as "To Be Filled By O.E.M." or an all-zero
// MAC). Such values must never be used to merge records: a junk serial shared
// by hundreds of machines would merge them all into one.
package identity

import (
	"net/netip"
	"sort"
	"strings"
)

// Func normalises one raw value of a key.
type Func func(string) string

// Normalizer holds the key types and the organisation's settings.
type Normalizer struct {
	funcs map[string]Func
}

// Options are organisation-specific normalisation settings.
type Options struct {
	// EmailAliases maps an alias domain to the primary one
	// ("acme.io" → "acme.com"), so jane@acme.io and jane@acme.com match.
	EmailAliases map[string]string
	// StripPlus removes "+tag" from the local part of e-mail addresses.
	StripPlus bool
	// Junk lists extra placeholder values, compared case-insensitively after
	// trimming, that mean "no value" for every key type.
	Junk []string
	// Types maps custom key names to a built-in type ("asset_tag": "serial").
	Types map[string]string
}

// Types lists the built-in key types.
func Types() []string {
	names := make([]string, 0, len(builtin))
	for n := range builtin {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var builtin = map[string]func(o *Options) Func{
	"serial":      func(*Options) Func { return Serial },
	"mac":         func(*Options) Func { return MAC },
	"hostname":    func(*Options) Func { return Hostname },
	"username":    func(*Options) Func { return Username },
	"uuid":        func(*Options) Func { return UUID },
	"employee_id": func(*Options) Func { return EmployeeID },
	"ip":          func(*Options) Func { return IP },
	"text":        func(*Options) Func { return Text },
	"name":        func(*Options) Func { return Name },
	"email": func(o *Options) Func {
		aliases := map[string]string{}
		for k, v := range o.EmailAliases {
			aliases[strings.ToLower(k)] = strings.ToLower(v)
		}
		strip := o.StripPlus
		return func(s string) string { return email(s, aliases, strip) }
	},
}

// IsType reports whether name is a built-in key type.
func IsType(name string) bool {
	_, ok := builtin[name]
	return ok
}

// New returns a normaliser for the given options. Key names that are not a
// built-in type and are not mapped in Options.Types are normalised as text.
func New(o Options) *Normalizer {
	n := &Normalizer{funcs: map[string]Func{}}
	for name, mk := range builtin {
		n.funcs[name] = mk(&o)
	}
	for name, typ := range o.Types {
		if mk, ok := builtin[typ]; ok {
			n.funcs[name] = mk(&o)
		}
	}
	if len(o.Junk) > 0 {
		junk := map[string]bool{}
		for _, j := range o.Junk {
			junk[strings.ToLower(strings.TrimSpace(j))] = true
		}
		for name, f := range n.funcs {
			f := f
			n.funcs[name] = func(s string) string {
				if junk[strings.ToLower(strings.TrimSpace(s))] {
					return ""
				}
				return f(s)
			}
		}
	}
	return n
}

// Func returns the normalisation function for the key called name.
func (n *Normalizer) Func(name string) Func {
	if f, ok := n.funcs[name]; ok {
		return f
	}
	return n.funcs["text"]
}

// Normalize normalises value as a key called name.
func (n *Normalizer) Normalize(name, value string) string {
	return n.Func(name)(value)
}

// placeholders are values that vendors and firmware write where there is no
// real identity. They are compared after upper-casing and trimming.
var placeholders = map[string]bool{
	"":                           true,
	"0":                          true,
	"00000000":                   true,
	"0000000000":                 true,
	"000000000000":               true,
	"123456789":                  true,
	"DEFAULT STRING":             true,
	"TO BE FILLED BY O.E.M.":     true,
	"TO BE FILLED BY OEM":        true,
	"SYSTEM SERIAL NUMBER":       true,
	"NOT SPECIFIED":              true,
	"NOT APPLICABLE":             true,
	"NOT AVAILABLE":              true,
	"NONE":                       true,
	"NULL":                       true,
	"N/A":                        true,
	"NA":                         true,
	"UNKNOWN":                    true,
	"INVALID":                    true,
	"CHASSIS SERIAL NUMBER":      true,
	"SERIAL NUMBER":              true,
	"SERIAL NUMBER VALUE":        true,
	"OEM":                        true,
	"VMWARE-":                    true,
	"PARALLELS VIRTUAL PLATFORM": true,
}

// Serial trims and upper-cases a serial number and removes inner spaces.
func Serial(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if placeholders[s] || strings.Trim(s, "0") == "" || strings.Trim(s, "F") == "" {
		return ""
	}
	if strings.ContainsAny(s, " \t") {
		s = strings.Join(strings.Fields(s), "")
	}
	return s
}

// MAC returns a MAC address as six lower-case hex pairs joined by colons,
// accepting "AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff", "aabb.ccdd.eeff" and
// "aabbccddeeff". All-zero and broadcast addresses are junk.
func MAC(s string) string {
	var hex [12]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		case c == ':' || c == '-' || c == '.' || c == ' ':
			continue
		default:
			return ""
		}
		if n == 12 {
			return ""
		}
		hex[n] = c
		n++
	}
	if n != 12 {
		return ""
	}
	all := string(hex[:])
	if strings.Trim(all, "0") == "" || strings.Trim(all, "f") == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(17)
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(hex[i])
		b.WriteByte(hex[i+1])
	}
	return b.String()
}

// Hostname lower-cases a host name and strips the domain
// ("MBP-Jane.corp.acme.com." → "mbp-jane"). IP addresses and "localhost"
// are not host identities.
func Hostname(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return ""
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return ""
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "", "localhost", "unknown", "none", "null", "n/a":
		return ""
	}
	return s
}

// Username lower-cases a login and removes a Windows domain prefix
// ("ACME\jdoe" → "jdoe").
func Username(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.LastIndexByte(s, '\\'); i >= 0 {
		s = s[i+1:]
	}
	switch s {
	case "", "root", "administrator", "admin", "system", "login", "nobody", "unknown", "n/a":
		return ""
	}
	return s
}

func email(s string, aliases map[string]string, stripPlus bool) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "mailto:")
	// "Jane Doe <jane@acme.com>"
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t,;") {
		return ""
	}
	local, domain := s[:at], s[at+1:]
	if stripPlus {
		if i := strings.IndexByte(local, '+'); i > 0 {
			local = local[:i]
		}
	}
	if d, ok := aliases[domain]; ok {
		domain = d
	}
	return local + "@" + domain
}

// Email normalises an e-mail address without organisation settings.
func Email(s string) string { return email(s, nil, false) }

// UUID returns a hardware or object UUID in lower-case hyphenated form,
// accepting braces and missing hyphens. All-zero, all-F and the well-known
// placeholder SMBIOS UUID are junk.
func UUID(s string) string {
	var hex [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		case c == '-' || c == '{' || c == '}' || c == ' ':
			continue
		default:
			return ""
		}
		if n == 32 {
			return ""
		}
		hex[n] = c
		n++
	}
	if n != 32 {
		return ""
	}
	h := string(hex[:])
	if strings.Trim(h, "0") == "" || strings.Trim(h, "f") == "" || h == "03000200040005000006000700080009" {
		return ""
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// EmployeeID trims an employee id and drops leading zeros from an all-digit
// id, because HR systems and identity providers disagree on padding
// ("000187" and "187" are the same person).
func EmployeeID(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	digits := true
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			digits = false
			break
		}
	}
	if digits {
		s = strings.TrimLeft(s, "0")
		if s == "" {
			return ""
		}
		return s
	}
	return strings.ToUpper(s)
}

// IP returns an IP address in canonical form (IPv4-mapped IPv6 unmapped).
func IP(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.IsUnspecified() {
		return ""
	}
	return a.Unmap().String()
}

// Text trims a value; it keeps case.
func Text(s string) string {
	s = strings.TrimSpace(s)
	if placeholders[strings.ToUpper(s)] && s != "0" {
		return ""
	}
	return s
}

// Name lower-cases a display name and collapses inner white space, for
// matching names of teams and catalog entries.
func Name(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}
