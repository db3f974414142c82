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
	"path"
	"sort"
	"strings"
)

// Func normalises one raw value of a key.
type Func func(string) string

// Check normalises one raw value of a key and, when the value is not a
// usable identity, says why ("factory host name", "all-zero MAC").
type Check func(string) (value, why string)

// Normalizer holds the key types and the organisation's settings.
type Normalizer struct {
	checks map[string]Check
	funcs  map[string]Func
	types  map[string]string
}

// Options are organisation-specific normalisation settings.
type Options struct {
	// EmailAliases maps an alias domain to the primary one
	// ("acme.io" → "acme.com"), so jane@acme.io and jane@acme.com match.
	EmailAliases map[string]string
	// StripPlus removes "+tag" from the local part of e-mail addresses.
	StripPlus bool
	// Junk lists extra placeholder values that mean "no value" for every
	// key type, beside the built-in ones. Each is compared case-insensitively
	// with the trimmed raw value and with the normalised one, and may be a
	// glob ("macbook-pro-*", "vmware-*").
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

var builtin = map[string]func(o *Options) Check{
	"serial":      func(*Options) Check { return serial },
	"mac":         func(*Options) Check { return mac },
	"hostname":    func(*Options) Check { return hostname },
	"username":    func(*Options) Check { return username },
	"uuid":        func(*Options) Check { return uuid },
	"employee_id": func(*Options) Check { return employeeID },
	"ip":          func(*Options) Check { return ip },
	"text":        func(*Options) Check { return text },
	"name":        func(*Options) Check { return name },
	"email": func(o *Options) Check {
		aliases := map[string]string{}
		for k, v := range o.EmailAliases {
			aliases[strings.ToLower(k)] = strings.ToLower(v)
		}
		strip := o.StripPlus
		return func(s string) (string, string) { return email(s, aliases, strip) }
	},
}

// strong are the key types whose value a thing has exactly one of, for
// its whole life: a machine has one serial number and one hardware UUID, a
// person one employee id. Only such a key can say that two records are
// different things. A machine has several MAC addresses (Wi-Fi, Ethernet,
// a dock, a Thunderbolt bridge) and a person several e-mail addresses, so
// a MAC or an e-mail that differs proves nothing.
var strong = map[string]bool{"serial": true, "uuid": true, "employee_id": true}

// IsType reports whether name is a built-in key type.
func IsType(name string) bool {
	_, ok := builtin[name]
	return ok
}

// New returns a normaliser for the given options. Key names that are not a
// built-in type and are not mapped in Options.Types are normalised as text.
func New(o Options) *Normalizer {
	n := &Normalizer{checks: map[string]Check{}, funcs: map[string]Func{}, types: map[string]string{}}
	for name, mk := range builtin {
		n.checks[name] = mk(&o)
		n.types[name] = name
	}
	for name, typ := range o.Types {
		if mk, ok := builtin[typ]; ok {
			n.checks[name] = mk(&o)
			n.types[name] = typ
		}
	}
	if len(o.Junk) > 0 {
		var exact = map[string]bool{}
		var globs []string
		for _, j := range o.Junk {
			j = strings.ToLower(strings.TrimSpace(j))
			if strings.ContainsAny(j, "*?[") {
				globs = append(globs, j)
			} else {
				exact[j] = true
			}
		}
		listed := func(s string) bool {
			if exact[s] {
				return true
			}
			for _, g := range globs {
				if ok, _ := path.Match(g, s); ok {
					return true
				}
			}
			return false
		}
		for name, c := range n.checks {
			c := c
			n.checks[name] = func(s string) (string, string) {
				if listed(strings.ToLower(strings.TrimSpace(s))) {
					return "", "listed in identity.junk"
				}
				v, why := c(s)
				if v != "" && listed(strings.ToLower(v)) {
					return "", "listed in identity.junk"
				}
				return v, why
			}
		}
	}
	for name, c := range n.checks {
		c := c
		n.funcs[name] = func(s string) string { v, _ := c(s); return v }
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

// Check returns the checking normalisation function for the key called name.
func (n *Normalizer) Check(name string) Check {
	if c, ok := n.checks[name]; ok {
		return c
	}
	return n.checks["text"]
}

// Normalize normalises value as a key called name.
func (n *Normalizer) Normalize(name, value string) string {
	return n.Func(name)(value)
}

// Why normalises value as a key called name and says why it is not a
// usable identity when it is not ("" for an empty value).
func (n *Normalizer) Why(name, value string) (string, string) {
	return n.Check(name)(value)
}

// Strong reports whether the key called name is single-valued for the
// life of a thing (its type is serial, uuid or employee_id): only such a
// key vetoes a merge when two records disagree on it.
func (n *Normalizer) Strong(name string) bool {
	return strong[n.types[name]]
}

// StrongType reports whether a key type is single-valued and strong.
func StrongType(typ string) bool { return strong[typ] }

// placeholders are values that vendors and firmware write where there is no
// real identity. They are compared after upper-casing and trimming.
var placeholders = map[string]bool{
	"":                           true,
	"0":                          true,
	"00000000":                   true,
	"0000000000":                 true,
	"000000000000":               true,
	"123456789":                  true,
	"0123456789":                 true,
	"1234567890":                 true,
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
	"XXXXXXXXXX":                 true,
	"XXXXXXXXXXXX":               true,
	"CHANGEME":                   true,
	"EMPTY":                      true,
}

// Serial trims and upper-cases a serial number and removes inner spaces.
func Serial(s string) string { v, _ := serial(s); return v }

func serial(s string) (string, string) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return "", ""
	}
	if placeholders[s] || strings.Trim(s, "0") == "" || strings.Trim(s, "F") == "" {
		return "", "placeholder serial number"
	}
	if strings.ContainsAny(s, " \t") {
		s = strings.Join(strings.Fields(s), "")
	}
	return s, ""
}

// sharedMACs are addresses that many machines report for a virtual or
// internal interface: they say nothing about which machine it is.
var sharedMACs = map[string]string{
	"ac:de:48:00:11:22": "the Apple T2/iBridge internal interface, the same on every such Mac",
	"02:00:00:00:00:00": "the address Apple and Android report when the real one is hidden",
	"00:05:9a:3c:7a:00": "the Cisco AnyConnect virtual adapter, the same on every machine",
	"00:50:56:c0:00:01": "the VMware VMnet1 host adapter, the same on every machine",
	"00:50:56:c0:00:08": "the VMware VMnet8 host adapter, the same on every machine",
	"0a:00:27:00:00:00": "a VirtualBox host-only adapter, the same on every machine",
	"02:00:4c:4f:4f:50": "the Npcap/Microsoft loopback adapter, the same on every machine",
	"00:ff:ff:ff:ff:ff": "a placeholder address",
	"02:42:ac:11:00:02": "a Docker container address, the same on every machine",
}

// MAC returns a MAC address as six lower-case hex pairs joined by colons,
// accepting "AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff", "aabb.ccdd.eeff" and
// "aabbccddeeff". All-zero, broadcast, multicast and well-known shared
// virtual addresses are junk.
func MAC(s string) string { v, _ := mac(s); return v }

func mac(s string) (string, string) {
	if strings.TrimSpace(s) == "" {
		return "", ""
	}
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
			return "", "not a MAC address"
		}
		if n == 12 {
			return "", "not a MAC address"
		}
		hex[n] = c
		n++
	}
	if n != 12 {
		return "", "not a MAC address"
	}
	all := string(hex[:])
	if strings.Trim(all, "0") == "" {
		return "", "all-zero MAC address"
	}
	if strings.Trim(all, "f") == "" {
		return "", "broadcast MAC address"
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
	v := b.String()
	if why, ok := sharedMACs[v]; ok {
		return "", "shared virtual MAC address: " + why
	}
	if first := unhex(hex[1]); first&1 == 1 {
		return "", "multicast MAC address, not a network card's"
	}
	return v, ""
}

func unhex(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// factoryHosts are the names operating systems give a machine before
// anyone names it: thousands of machines share them.
var factoryHosts = map[string]bool{
	"macbook": true, "macbook-pro": true, "macbook-air": true, "imac": true, "imac-pro": true,
	"mac-mini": true, "macmini": true, "mac-studio": true, "mac-pro": true, "mac": true,
	"iphone": true, "ipad": true, "android": true,
	"localhost": true, "ubuntu": true, "debian": true, "fedora": true, "centos": true, "kali": true,
	"raspberrypi": true,
	"user-pc":     true, "admin-pc": true, "workstation": true,
}

// Hostname returns the short host name the way admins compare them: case
// is ignored; the domain is stripped, so an FQDN, a ".local" Bonjour name
// and the short name are one host ("MBP-Jane.corp.acme.com." → "mbp-jane");
// a macOS computer name becomes its local host name ("Jane’s MacBook Pro"
// → "janes-macbook-pro"). IP addresses and factory names ("MacBook-Pro",
// "MacBook-Pro-2", "localhost") are not host identities.
func Hostname(s string) string { v, _ := hostname(s); return v }

func hostname(s string) (string, string) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", ""
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "", "an IP address, not a host name"
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	if strings.ContainsAny(s, " _'’") {
		s = strings.NewReplacer("'", "", "’", "", " ", "-", "_", "-").Replace(s)
	}
	switch s {
	case "", "unknown", "none", "null", "n/a":
		return "", "placeholder host name"
	}
	base := s
	// macOS appends "-2", "-3" when the name is taken on the network.
	if i := strings.LastIndexByte(base, '-'); i > 0 && allDigits(base[i+1:]) {
		base = base[:i]
	}
	if factoryHosts[s] || factoryHosts[base] {
		return "", "factory host name, shared by many machines"
	}
	return s, ""
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Username lower-cases a login and removes a Windows domain prefix
// ("ACME\jdoe" → "jdoe").
func Username(s string) string { v, _ := username(s); return v }

func username(s string) (string, string) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.LastIndexByte(s, '\\'); i >= 0 {
		s = s[i+1:]
	}
	switch s {
	case "":
		return "", ""
	case "root", "administrator", "admin", "system", "login", "nobody", "unknown", "n/a":
		return "", "shared or system account"
	}
	return s, ""
}

func email(s string, aliases map[string]string, stripPlus bool) (string, string) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", ""
	}
	s = strings.TrimPrefix(s, "mailto:")
	// "Jane Doe <jane@acme.com>"
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t,;") {
		return "", "not an e-mail address"
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
	return local + "@" + domain, ""
}

// Email normalises an e-mail address without organisation settings.
func Email(s string) string { v, _ := email(s, nil, false); return v }

// UUID returns a hardware or object UUID in lower-case hyphenated form,
// accepting braces and missing hyphens. All-zero, all-F and the well-known
// placeholder SMBIOS UUID are junk.
func UUID(s string) string { v, _ := uuid(s); return v }

func uuid(s string) (string, string) {
	if strings.TrimSpace(s) == "" {
		return "", ""
	}
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
			return "", "not a UUID"
		}
		if n == 32 {
			return "", "not a UUID"
		}
		hex[n] = c
		n++
	}
	if n != 32 {
		return "", "not a UUID"
	}
	h := string(hex[:])
	if strings.Trim(h, "0") == "" || strings.Trim(h, "f") == "" || h == "03000200040005000006000700080009" ||
		h == "12345678123456781234567812345678" {
		return "", "placeholder UUID"
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], ""
}

// EmployeeID trims an employee id and drops leading zeros from an all-digit
// id, because HR systems and identity providers disagree on padding
// ("000187" and "187" are the same person).
func EmployeeID(s string) string { v, _ := employeeID(s); return v }

func employeeID(s string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	if allDigits(s) {
		s = strings.TrimLeft(s, "0")
		if s == "" {
			return "", "placeholder employee id"
		}
		return s, ""
	}
	return strings.ToUpper(s), ""
}

// IP returns an IP address in canonical form (IPv4-mapped IPv6 unmapped).
func IP(s string) string { v, _ := ip(s); return v }

func ip(s string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", "not an IP address"
	}
	if a.IsUnspecified() {
		return "", "unspecified IP address"
	}
	return a.Unmap().String(), ""
}

// Text trims a value; it keeps case.
func Text(s string) string { v, _ := text(s); return v }

func text(s string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	if placeholders[strings.ToUpper(s)] && s != "0" {
		return "", "placeholder value"
	}
	return s, ""
}

// Name lower-cases a display name and collapses inner white space, for
// matching names of teams and catalog entries.
func Name(s string) string { v, _ := name(s); return v }

func name(s string) (string, string) {
	return strings.ToLower(strings.Join(strings.Fields(s), " ")), ""
}
