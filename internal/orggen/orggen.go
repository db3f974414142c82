// Package orggen generates an example organisation's exports, shaped like
// the vendors' real payloads: an HR CSV, Jamf Pro and Intune inventories,
// CrowdStrike Falcon devices, Okta users and factors, Checkr candidates and
// reports, an osquery results log of installed software, and a catalog of
// latest versions.
//
// The same generator writes the bundled example (examples/acme: 200
// people, every gap a deliberate, documented scenario) and the benchmark
// organisation (100,000 people, gaps at realistic rates). Output is
// deterministic for a seed.
package orggen

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Rates are the base rates of gaps in a generated organisation.
type Rates struct {
	EDRMissing    float64 // managed laptops with no EDR agent
	EDRStale      float64 // EDR agents that stopped reporting
	WeakMFA       float64 // accounts with SMS or no factor
	NoBackground  float64 // hires with no background check
	AppOutdated   float64 // catalog apps installed at an old version
	NoEncryption  float64 // laptops without disk encryption
	Terminated    float64 // people who have left
	OnLeave       float64
	LeftStillOkta float64 // leavers whose account is still active
	LeftLaptopOn  float64 // leavers whose laptop still checks in

	// What real fleets do to correlation (0 in the named example, which
	// plants each case by hand).
	EDRAdapter  float64 // EDR reports a USB adapter's MAC, no serial and an FQDN
	FactoryName float64 // a Mac kept its factory name MacBook-Pro
	T2Bridge    float64 // Jamf lists the T2 bridge MAC as the second MAC
	ReScreen    float64 // a periodic re-screen is in progress after a clear report
}

// Options say what to generate.
type Options struct {
	People int
	Seed   uint64
	Now    time.Time
	// Story adds the acme example's named scenarios.
	Story bool
	// AppsPerDevice is the mean number of installed apps per laptop.
	AppsPerDevice int
	// SecondLaptop is the share of people with two laptops.
	SecondLaptop float64
	Rates        Rates
}

// Acme returns the options of the bundled example organisation.
func Acme() Options {
	return Options{People: 200, Seed: 20261130, Now: AcmeNow, Story: true, AppsPerDevice: 12, SecondLaptop: 0.08,
		Rates: Rates{Terminated: 0.06, OnLeave: 0.03}}
}

// AcmeNow is the time the example organisation's data describes.
var AcmeNow = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// Large returns the options of the benchmark organisation: n people, about
// 1.3 laptops each and 39 apps per laptop: 130,000 laptops and 5,000,000
// software records for 100,000 people.
func Large(n int) Options {
	return Options{People: n, Seed: 7, Now: AcmeNow, AppsPerDevice: 39, SecondLaptop: 0.345,
		Rates: Rates{EDRMissing: 0.02, EDRStale: 0.02, WeakMFA: 0.05, NoBackground: 0.01, AppOutdated: 0.06,
			NoEncryption: 0.01, Terminated: 0.05, OnLeave: 0.02, LeftStillOkta: 0.2, LeftLaptopOn: 0.2}}
}

type person struct {
	idx          int
	empID        string
	first, last  string
	email        string
	username     string
	dept, title  string
	location, tz string
	manager      *person
	hired        time.Time
	terminated   time.Time
	status       string // Active, Terminated, Leave
	oktaID       string
	oktaLogin    string // may use the legacy domain
	oktaStatus   string
	factors      []string // factor types, "!" prefix for pending
	bgc          string   // "", "clear", "pending", "consider"
	bgcAt        time.Time
	candID       string
	candEmail    string
	candNoEmpID  bool // the candidate record has no employee id (custom_id)
	reports      []report
}

type report struct {
	id, status, result string
	created, completed time.Time
}

type device struct {
	owner       *person
	mac         bool // a Mac in Jamf; otherwise Windows in Intune
	jamfID      int
	udid        string
	serial      string
	hostname    string
	macAddr     string
	macAddr2    string
	lastContact time.Time
	enrolled    time.Time
	encrypted   bool
	model       string
	os          string
	inEDR       bool
	edrID       string
	edrLastSeen time.Time
	edrSerial   bool // EDR reports the serial
	edrFQDN     bool
	edrMAC      string // the MAC EDR reports, when not the laptop's first
	edrHost     string // the host name EDR reports, when not the laptop's
	osquery     bool
	apps        []install
	dupJamf     *device // a re-imaged laptop's older Jamf record
	noOwner     bool    // a shared machine with no user in MDM
}

type install struct {
	app     *catalogApp // nil for apps outside the catalog
	name    string
	version string
	path    string
}

type catalogApp struct {
	name, bundle, latest, released, old string
	winName                             string
}

// catalog is the latest-versions catalog. "old" is a version behind.
var catalog = []*catalogApp{
	{name: "Google Chrome", bundle: "com.google.Chrome", latest: "131.0.6778.86", old: "131.0.6778.69", released: "2026-11-19", winName: "Google Chrome"},
	{name: "Mozilla Firefox", bundle: "org.mozilla.firefox", latest: "133.0.3", old: "132.0.2", released: "2026-11-26", winName: "Mozilla Firefox"},
	{name: "Slack", bundle: "com.tinyspeck.slackmacgap", latest: "4.41.105", old: "4.39.95", released: "2026-11-12", winName: "Slack"},
	{name: "Zoom Workplace", bundle: "us.zoom.xos", latest: "6.2.11", old: "6.1.6", released: "2026-11-05", winName: "Zoom Workplace"},
	{name: "Visual Studio Code", bundle: "com.microsoft.VSCode", latest: "1.95.3", old: "1.94.2", released: "2026-11-14", winName: "Microsoft Visual Studio Code"},
	{name: "1Password", bundle: "com.1password.1password", latest: "8.10.54", old: "8.10.36", released: "2026-11-20", winName: "1Password"},
	{name: "Docker Desktop", bundle: "com.docker.docker", latest: "4.36.0", old: "4.34.2", released: "2026-11-21", winName: "Docker Desktop"},
	{name: "Microsoft Teams", bundle: "com.microsoft.teams2", latest: "24295.606.3238.6194", old: "24277.3101.3142.1225", released: "2026-11-18", winName: "Microsoft Teams"},
}

// otherApps are installed apps the catalog does not track.
var otherApps = []string{"Safari", "Mail", "Calendar", "Notes", "Preview", "Xcode", "Keynote", "Numbers", "Pages",
	"Spotify", "Postman", "Figma", "Notion", "iTerm", "Rectangle", "Alfred", "Obsidian", "Loom", "Miro", "Grammarly Desktop",
	"Microsoft Excel", "Microsoft Word", "Microsoft PowerPoint", "Microsoft Outlook", "OneDrive", "Tableau", "DBeaver",
	"Sublime Text", "GitHub Desktop", "Wireshark", "VLC", "The Unarchiver", "Magnet", "CleanShot X", "Raycast", "Arc",
	"Cursor", "Linear", "Discord", "WhatsApp", "Signal", "Telegram", "Microsoft Remote Desktop", "TablePlus", "Insomnia"}

var firstNames = strings.Fields(`Jane Isaac Priya Tomas Amara Lucas Mei Omar Sofia Daniel Aisha Noah Elena Kenji Fatima Liam Chloe Mateo
Zara Ethan Hana Diego Nora Samuel Leila Victor Ines Ravi Yuki Ada Felix Maya Hugo Lina Oscar Rosa Arjun Clara Tariq Eva
Jonas Nia Pablo Ivy Marco Sara Theo Alma Kofi Lea Bruno Mina Caleb Dina Emil Gwen Hiro Iris Jude Kaia Leon Mira Nils Opal
Quinn Rhea Soren Tess Uma Vik Wren Xavi Yara Zane`)

var lastNames = strings.Fields(`Doe Brock Patel Novak Okafor Silva Chen Haddad Rossi Kim Bello Smith Petrov Tanaka Rahman Murphy
Dubois Garcia Ahmed Lindqvist Sato Lopez Berg Cohen Farah Moreau Costa Shah Mori Lovelace Wagner Nakamura Laurent Keller
Romero Fischer Iyer Bianchi Aziz Jansen Osei Ruiz Park Conti Weber Mensah Vogel Ito Santos Kowalski Nguyen Adeyemi Holm Reyes
Byrne Varga Ortiz Stone Walsh Young Zhou`)

var depts = []struct {
	name  string
	share float64
	title string
}{
	{"Engineering", 0.38, "Software Engineer"}, {"Sales", 0.14, "Account Executive"}, {"Support", 0.12, "Support Specialist"},
	{"Marketing", 0.08, "Marketing Manager"}, {"Finance", 0.06, "Financial Analyst"}, {"IT", 0.06, "IT Engineer"},
	{"People", 0.05, "People Partner"}, {"Security", 0.06, "Security Engineer"}, {"Legal", 0.05, "Counsel"},
}

// leaders are the chief executive and the heads of depts, in order; the
// example's responsibility matrix names some of them.
var leaders = [][2]string{{"Ada", "Lovelace"}, {"Grace", "Hopper"}, {"Ken", "Thompson"}, {"Barbara", "Liskov"},
	{"Margaret", "Hamilton"}, {"Radia", "Perlman"}, {"Frances", "Allen"}, {"Katherine", "Johnson"}, {"Whitfield", "Diffie"}, {"Ruth", "Ginsburg"}}

var locations = []struct{ name, tz string }{
	{"San Francisco", "America/Los_Angeles"}, {"New York", "America/New_York"}, {"London", "Europe/London"},
	{"Berlin", "Europe/Berlin"}, {"Bangalore", "Asia/Kolkata"}, {"Remote - US", "America/Chicago"},
}

// Org is a generated organisation.
type Org struct {
	opts    Options
	r       *rand.Rand
	tail    []tailApp
	zipf    *rand.Zipf
	people  []*person
	devices []*device
	// Story lists the deliberate scenarios, for the example's README.
	Story []string
}

// New generates an organisation in memory.
func New(o Options) *Org {
	g := &Org{opts: o, r: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
	g.makePeople()
	g.makeDevices()
	g.makeIdentity()
	g.makeScreening()
	if o.Story {
		g.story()
	}
	return g
}

func (g *Org) chance(p float64) bool { return p > 0 && g.r.Float64() < p }

func (g *Org) ago(maxDays float64) time.Time {
	return g.opts.Now.Add(-time.Duration(g.r.Float64() * maxDays * float64(24*time.Hour))).Truncate(time.Second)
}

func (g *Org) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

func (g *Org) alnum(n int) string {
	const digits = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(len(digits))]
	}
	return string(b)
}

func (g *Org) uuid() string {
	h := g.hex(32)
	return strings.ToUpper(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32])
}

func (g *Org) mac(oui string) string {
	h := g.hex(6)
	return oui + ":" + h[0:2] + ":" + h[2:4] + ":" + h[4:6]
}

func (g *Org) makePeople() {
	n := g.opts.People
	used := map[string]int{}
	users := map[string]int{}
	heads := map[string]*person{}
	managers := map[string][]*person{}
	for i := 0; i < n; i++ {
		p := &person{idx: i, first: firstNames[g.r.IntN(len(firstNames))], last: lastNames[g.r.IntN(len(lastNames))]}
		if i < len(leaders) {
			p.first, p.last = leaders[i][0], leaders[i][1]
		}
		base := strings.ToLower(p.first + "." + p.last)
		used[base]++
		if used[base] > 1 {
			base += strconv.Itoa(used[base])
		}
		p.email = base + "@acme.com"
		// Directories keep usernames unique: the second J. Doe is jdoe2.
		p.username = strings.ToLower(p.first[:1] + p.last)
		users[p.username]++
		if users[p.username] > 1 {
			p.username += strconv.Itoa(users[p.username])
		}
		p.empID = fmt.Sprintf("%06d", 1000+i)
		loc := locations[g.r.IntN(len(locations))]
		p.location, p.tz = loc.name, loc.tz
		p.hired = g.ago(6 * 365)
		p.status = "Active"
		switch {
		case i == 0:
			p.dept, p.title = "Executive", "Chief Executive Officer"
		case i <= len(depts):
			d := depts[i-1]
			p.dept, p.title = d.name, "VP "+d.name
			p.manager = g.people[0]
			heads[d.name] = p
		default:
			x := g.r.Float64()
			d := depts[0]
			for _, dd := range depts {
				if x < dd.share {
					d = dd
					break
				}
				x -= dd.share
			}
			p.dept, p.title = d.name, d.title
			ms := managers[d.name]
			if len(ms) == 0 || len(ms) < (i/9)/len(depts)+1 && g.chance(0.25) {
				p.title = d.name + " Manager"
				p.manager = heads[d.name]
				managers[d.name] = append(managers[d.name], p)
			} else {
				p.manager = ms[g.r.IntN(len(ms))]
			}
			if g.chance(0.04) {
				p.hired = g.ago(45) // a recent hire
			}
			switch {
			case g.chance(g.opts.Rates.Terminated):
				p.status = "Terminated"
				p.terminated = g.ago(180)
				if p.terminated.Before(p.hired) {
					p.hired = p.terminated.Add(-400 * 24 * time.Hour)
				}
			case g.chance(g.opts.Rates.OnLeave):
				p.status = "Leave"
			}
		}
		g.people = append(g.people, p)
	}
}

func (g *Org) makeDevices() {
	jamfID := 1
	for _, p := range g.people {
		n := 1
		if g.chance(g.opts.SecondLaptop) {
			n = 2
		}
		if p.status == "Terminated" {
			// Most leavers' laptops were returned and removed from MDM.
			if !g.chance(0.4) {
				continue
			}
			n = 1
		}
		for k := 0; k < n; k++ {
			d := &device{owner: p, mac: g.r.Float64() < 0.85}
			d.udid = g.uuid()
			suffix := strings.ToUpper(p.username)
			if k > 0 {
				suffix += "-2"
			}
			if d.mac {
				d.jamfID = jamfID
				jamfID++
				d.serial = "C02" + g.alnum(9)
				d.hostname = "MBP-" + suffix
				d.macAddr, d.macAddr2 = g.mac("a4:83:e7"), g.mac("3c:22:fb")
				d.model, d.os = "MacBook Pro (14-inch, 2023)", "15.1.1"
			} else {
				d.serial = "PF" + g.alnum(6)
				d.hostname = "LT-" + suffix
				d.macAddr, d.macAddr2 = g.mac("8c:8d:28"), g.mac("54:05:db")
				d.model, d.os = "ThinkPad X1 Carbon Gen 11", "10.0.22631.4460"
			}
			d.enrolled = p.hired.Add(24 * time.Hour)
			d.lastContact = g.ago(1)
			d.encrypted = !g.chance(g.opts.Rates.NoEncryption)
			if p.status == "Terminated" {
				if g.chance(g.opts.Rates.LeftLaptopOn) {
					d.lastContact = g.ago(1)
				} else {
					d.lastContact = p.terminated.Add(-time.Duration(g.r.IntN(72)) * time.Hour)
				}
			}
			d.inEDR = !g.chance(g.opts.Rates.EDRMissing)
			d.edrID = g.hex(32)
			d.edrLastSeen = d.lastContact.Add(-time.Duration(g.r.IntN(3600)) * time.Second)
			if g.chance(g.opts.Rates.EDRStale) {
				d.edrLastSeen = g.opts.Now.Add(-time.Duration(4+g.r.IntN(40)) * 24 * time.Hour)
			}
			d.edrSerial = g.r.Float64() < 0.97
			d.edrFQDN = g.r.Float64() < 0.2
			if d.mac && g.chance(g.opts.Rates.EDRAdapter) {
				d.edrSerial, d.edrFQDN, d.edrMAC = false, true, g.mac("00:e0:4c")
			} else if d.mac && g.chance(g.opts.Rates.FactoryName) {
				// Not with the adapter case: an EDR record with no serial,
				// an unknown MAC and a factory name carries no identity at
				// all, and no correlation can place it.
				d.hostname = "MacBook-Pro"
			}
			if d.mac && g.chance(g.opts.Rates.T2Bridge) {
				d.macAddr2 = "ac:de:48:00:11:22"
			}
			d.osquery = true
			g.makeApps(d)
			g.devices = append(g.devices, d)
		}
	}
}

func (g *Org) makeApps(d *device) {
	per := g.opts.AppsPerDevice
	if per == 0 {
		return
	}
	// Three to six catalog apps, the rest from the long tail.
	nCat := 3 + g.r.IntN(4)
	for _, i := range g.r.Perm(len(catalog))[:nCat] {
		a := catalog[i]
		v := a.latest
		if g.chance(g.opts.Rates.AppOutdated) {
			v = a.old
		}
		d.apps = append(d.apps, g.installOf(d, a, v))
	}
	others := per - nCat + g.r.IntN(5) - 2
	seen := map[string]bool{}
	for tries := 0; len(d.apps) < nCat+others && tries < 4*per; tries++ {
		a := g.longTail()
		if seen[a.name] {
			continue
		}
		seen[a.name] = true
		d.apps = append(d.apps, install{name: a.name, version: a.version, path: "/Applications/" + a.name + ".app"})
	}
}

// tailApp is an installed app the catalog does not track.
type tailApp struct{ name, version string }

// longTail picks an app the way fleets install them: a few hundred apps
// are on most machines, thousands more on a handful (Zipf-distributed).
func (g *Org) longTail() tailApp {
	if g.tail == nil {
		g.zipf = rand.NewZipf(g.r, 1.1, 4, 4999)
		for i := 0; i < 5000; i++ {
			name := otherApps[i%len(otherApps)]
			if i >= len(otherApps) {
				name = fmt.Sprintf("%s %d", name, i/len(otherApps))
			}
			g.tail = append(g.tail, tailApp{name: name, version: fmt.Sprintf("%d.%d.%d", 1+i%20, i%30, i%200)})
		}
	}
	return g.tail[g.zipf.Uint64()]
}

func (g *Org) installOf(d *device, a *catalogApp, v string) install {
	if d.mac {
		return install{app: a, name: a.name + ".app", version: v, path: "/Applications/" + a.name + ".app"}
	}
	return install{app: a, name: a.winName, version: v, path: `C:\Program Files\` + a.winName}
}

var strong = []string{"push", "token:software:totp", "webauthn", "signed_nonce"}

func (g *Org) makeIdentity() {
	for _, p := range g.people {
		p.oktaID = "00u" + g.alnum(17)
		p.oktaLogin = p.email
		if g.chance(0.1) {
			p.oktaLogin = strings.TrimSuffix(p.email, "@acme.com") + "@acme.io" // the legacy domain
		}
		p.oktaStatus = "ACTIVE"
		if p.status == "Terminated" {
			p.oktaStatus = "DEPROVISIONED"
			if g.chance(g.opts.Rates.LeftStillOkta) {
				p.oktaStatus = "ACTIVE"
			}
		}
		if g.chance(g.opts.Rates.WeakMFA) {
			p.factors = []string{"sms"}
		} else {
			p.factors = []string{strong[g.r.IntN(len(strong))]}
			if g.chance(0.3) {
				p.factors = append(p.factors, "sms")
			}
		}
	}
}

func (g *Org) makeScreening() {
	for _, p := range g.people {
		p.candID = g.hex(24)
		p.candEmail = p.email
		if g.chance(0.3) {
			p.candEmail = strings.ToLower(p.first+p.last) + strconv.Itoa(g.r.IntN(99)) + "@gmail.com"
		}
		if g.chance(g.opts.Rates.NoBackground) {
			continue
		}
		created := p.hired.Add(-time.Duration(7+g.r.IntN(20)) * 24 * time.Hour)
		p.reports = append(p.reports, report{id: g.hex(24), status: "complete", result: "clear", created: created, completed: created.Add(time.Duration(2+g.r.IntN(5)) * 24 * time.Hour)})
		if g.chance(g.opts.Rates.ReScreen) {
			p.reports = append(p.reports, report{id: g.hex(24), status: "pending", created: g.opts.Now.Add(-time.Duration(1+g.r.IntN(10)) * 24 * time.Hour)})
		}
	}
}

func (g *Org) byEmail(prefix string) *person {
	for _, p := range g.people {
		if strings.HasPrefix(p.email, prefix) {
			return p
		}
	}
	return nil
}

// pick returns the first active person after start matching ok, so that
// each scenario lands on a different, ordinary person.
func (g *Org) pick(start int, taken map[*person]bool, ok func(*person) bool) *person {
	for i := start; i < len(g.people); i++ {
		p := g.people[i]
		if !taken[p] && p.status == "Active" && p.idx > len(depts) && ok(p) {
			taken[p] = true
			return p
		}
	}
	panic("orggen: no person left for a scenario")
}

func (g *Org) devicesOf(p *person) []*device {
	var out []*device
	for _, d := range g.devices {
		if d.owner == p {
			out = append(out, d)
		}
	}
	return out
}

func (g *Org) tell(format string, args ...any) {
	g.Story = append(g.Story, fmt.Sprintf(format, args...))
}

// activeManager is the nearest manager above p who has not left: who a
// leaver's gaps go to.
func activeManager(p *person) *person {
	m := p.manager
	for m != nil && m.status == "Terminated" {
		m = m.manager
	}
	return m
}

// story applies the example organisation's deliberate gaps.
func (g *Org) story() {
	now := g.opts.Now
	taken := map[*person]bool{}
	day := 24 * time.Hour
	macOwner := func(p *person) bool { ds := g.devicesOf(p); return len(ds) == 1 && ds[0].mac }
	hasLaptop := func(p *person) bool { return len(g.devicesOf(p)) == 1 }

	// Endpoint security.
	for i := 0; i < 3; i++ {
		p := g.pick(20+i*7, taken, macOwner)
		d := g.devicesOf(p)[0]
		d.inEDR = false
		g.tell("edr-agent-missing: %s's laptop %s has no CrowdStrike agent", p.email, d.hostname)
	}
	for i := 0; i < 2; i++ {
		p := g.pick(60+i*5, taken, hasLaptop)
		d := g.devicesOf(p)[0]
		d.edrLastSeen = now.Add(-time.Duration(9+i*11) * day)
		g.tell("edr-agent-stale: %s's laptop %s last reported to CrowdStrike %d days ago", p.email, d.hostname, 9+i*11)
	}
	// A Windows laptop whose EDR record has no serial: matched by MAC.
	if p := g.pick(70, taken, func(p *person) bool { ds := g.devicesOf(p); return len(ds) == 1 && !ds[0].mac }); p != nil {
		d := g.devicesOf(p)[0]
		d.edrSerial = false
		g.tell("correlation: %s's Windows laptop %s is matched to its CrowdStrike record by MAC address alone", p.email, d.hostname)
	}
	// A re-imaged laptop: Jamf has two records with one serial.
	if p := g.pick(80, taken, macOwner); p != nil {
		d := g.devicesOf(p)[0]
		old := *d
		old.jamfID, old.udid = 9000, g.uuid()
		old.lastContact = now.Add(-95 * day)
		old.hostname = "MBP-" + strings.ToUpper(p.username) + "-OLD"
		old.apps = nil
		d.dupJamf = &old
		g.tell("correlation: %s's laptop %s was re-imaged; Jamf holds two records with serial %s and onus merges them", p.email, d.hostname, d.serial)
	}
	// Two laptops that share a hostname but not a serial: not merged.
	if p := g.pick(90, taken, macOwner); p != nil {
		q := g.pick(95, taken, macOwner)
		dp, dq := g.devicesOf(p)[0], g.devicesOf(q)[0]
		dq.hostname = dp.hostname
		g.tell("correlation: %s and %s both have a laptop named %s (serials %s and %s); onus keeps them apart and explain shows the near match", p.email, q.email, dp.hostname, dp.serial, dq.serial)
	}
	// A shared machine with no user, and no disk encryption: nobody owns it.
	if p := g.pick(100, taken, macOwner); p != nil {
		d := g.devicesOf(p)[0]
		d.noOwner, d.encrypted = true, false
		d.hostname = "MBP-KIOSK-LOBBY"
		g.tell("ownership gap: the lobby kiosk %s has no user in Jamf and no disk encryption; its finding goes to the fallback contact", d.hostname)
	}
	for i := 0; i < 2; i++ {
		p := g.pick(105+i*4, taken, macOwner)
		d := g.devicesOf(p)[0]
		d.encrypted = false
		g.tell("disk-encryption: %s's laptop %s has FileVault off", p.email, d.hostname)
	}

	// Identity.
	for i := 0; i < 4; i++ {
		p := g.pick(110+i*3, taken, func(*person) bool { return true })
		p.factors = []string{"sms"}
		g.tell("mfa-strong-factor: %s has only SMS", p.email)
	}
	if p := g.pick(125, taken, func(*person) bool { return true }); p != nil {
		p.factors = []string{"!token:software:totp"}
		g.tell("mfa-strong-factor: %s enrolled an authenticator app but never activated it", p.email)
	}
	if p := g.pick(128, taken, func(*person) bool { return true }); p != nil {
		p.factors = nil
		g.tell("mfa-strong-factor: %s has no factor at all", p.email)
	}
	// Leavers.
	leavers := 0
	for _, p := range g.people {
		if p.status != "Terminated" || leavers >= 2 {
			continue
		}
		p.oktaStatus = "ACTIVE"
		leavers++
		g.tell("terminated-account-active: %s left on %s and their Okta account is still active; the finding goes to their former manager %s", p.email, p.terminated.Format("2 Jan"), activeManager(p).email)
	}
	// A leaver whose laptop still checks in.
	if p := g.pick(130, taken, macOwner); p != nil {
		p.status = "Terminated"
		p.terminated = now.Add(-21 * day)
		p.oktaStatus = "DEPROVISIONED"
		d := g.devicesOf(p)[0]
		d.lastContact = now.Add(-5 * time.Hour)
		g.tell("departed-device-checking-in: %s left on %s but their laptop %s still checks in; the finding goes to %s", p.email, p.terminated.Format("2 Jan"), d.hostname, activeManager(p).email)
	}
	// A manager who left: their report's gap goes up a level.
	if p := g.pick(135, taken, func(p *person) bool {
		m := p.manager
		return m != nil && m.manager != nil && m.idx > len(depts) && !taken[m] && m.status == "Active"
	}); p != nil {
		m := p.manager
		taken[m] = true
		m.status, m.terminated, m.oktaStatus = "Terminated", now.Add(-40*day), "DEPROVISIONED"
		for _, d := range g.devicesOf(m) {
			d.lastContact = m.terminated.Add(-2 * day)
		}
		p.hired = now.Add(-30 * day)
		p.reports = nil
		g.tell("background-check-complete: %s was hired 30 days ago with no background check; their manager %s has left, so the finding goes to %s", p.email, m.email, m.manager.email)
	}

	// Screening.
	for i := 0; i < 2; i++ {
		p := g.pick(140+i*3, taken, func(*person) bool { return true })
		p.hired = now.Add(-time.Duration(20+i*15) * day)
		p.reports = nil
		g.tell("background-check-complete: %s was hired %d days ago and has no background check", p.email, 20+i*15)
	}
	if p := g.pick(150, taken, func(*person) bool { return true }); p != nil {
		p.hired = now.Add(-25 * day)
		p.reports = []report{{id: g.hex(24), status: "pending", created: now.Add(-32 * day)}}
		g.tell("background-check-complete: %s was hired 25 days ago; their Checkr report is still pending", p.email)
	}
	if p := g.pick(153, taken, func(*person) bool { return true }); p != nil {
		p.hired = now.Add(-6 * day)
		p.reports = nil
		g.tell("not a gap yet: %s was hired 6 days ago; the check is not due until day 14", p.email)
	}
	if p := g.pick(156, taken, func(*person) bool { return true }); p != nil {
		p.candEmail = strings.ToLower(p.first) + ".personal@gmail.com"
		g.tell("correlation: %s applied with a personal address; Checkr knows them by employee id", p.email)
	}

	// Software.
	outdated := 0
	for _, d := range g.devices {
		if d.owner == nil || taken[d.owner] || d.owner.status != "Active" || outdated >= 6 || d.owner.idx%17 != 3 {
			continue
		}
		a := &d.apps[0]
		a.version = a.app.old
		outdated++
		g.tell("app-outdated: %s runs %s %s on %s; the catalog says %s", d.owner.email, a.app.name, a.version, d.hostname, a.app.latest)
	}
	// Numeric comparison: 131.0.6778.100 is newer than .86, though it
	// sorts before it as text.
	for _, d := range g.devices {
		if d.owner != nil && d.owner.idx%19 == 5 && d.mac {
			d.apps = append(d.apps, install{app: catalog[0], name: "Google Chrome Beta.app", version: "131.0.6778.100", path: "/Applications/Google Chrome Beta.app"})
			g.tell("not a gap: %s runs Chrome 131.0.6778.100 on %s, newer than the catalog's 131.0.6778.86 although it sorts before it as text", d.owner.email, d.hostname)
			break
		}
	}
	g.fleetStory(taken)
}

// fleetStory adds what real fleets do to correlation: laptops with several
// network interfaces, docks shared between desks, factory names, virtual
// MACs, background checks filed under a personal address and re-screens.
func (g *Org) fleetStory(taken map[*person]bool) {
	now := g.opts.Now
	day := 24 * time.Hour
	macOwner := func(p *person) bool { ds := g.devicesOf(p); return len(ds) == 1 && ds[0].mac && len(ds[0].apps) > 0 }
	anyone := func(*person) bool { return true }

	// A Mac on a USB Ethernet adapter: CrowdStrike reports that adapter's
	// MAC, which Jamf never saw, no serial and a fully qualified name.
	if p := g.pick(160, taken, macOwner); p != nil {
		d := g.devicesOf(p)[0]
		d.edrSerial, d.edrFQDN = false, true
		d.edrMAC = g.mac("00:e0:4c")
		d.edrLastSeen = now.Add(-12 * day)
		g.tell("edr-agent-stale: %s's laptop %s last reported to CrowdStrike 12 days ago as %s, with no serial and the MAC %s of a USB Ethernet adapter Jamf never saw; onus matches it by host name, because a differing MAC proves nothing, and finds the agent stale, not missing",
			p.email, d.hostname, strings.ToLower(d.hostname)+".corp.acme.com", d.edrMAC)
	}
	// Two laptops that kept the factory name.
	if p := g.pick(163, taken, macOwner); p != nil {
		q := g.pick(166, taken, macOwner)
		dp, dq := g.devicesOf(p)[0], g.devicesOf(q)[0]
		dp.hostname, dq.hostname = "MacBook-Pro", "MacBook-Pro"
		g.tell("correlation: %s's and %s's laptops both kept the factory name MacBook-Pro (serials %s and %s); onus ignores the name as junk (explain says so): no near match, and each is matched to its CrowdStrike record by serial",
			p.email, q.email, dp.serial, dq.serial)
	}
	// Every T2 Mac reports the same internal bridge MAC.
	var t2 []string
	for i := 0; i < 3; i++ {
		p := g.pick(169+i*2, taken, macOwner)
		d := g.devicesOf(p)[0]
		d.macAddr2 = "ac:de:48:00:11:22"
		t2 = append(t2, d.hostname)
	}
	g.tell("correlation: Jamf lists the T2 bridge MAC ac:de:48:00:11:22 on %s; onus ignores it as a shared virtual MAC: no near match", strings.Join(t2, ", "))
	// A dock's USB Ethernet adapter used at two desks: Jamf lists its MAC
	// on both laptops, and the second laptop's only CrowdStrike record has
	// that MAC, no serial and the factory name.
	if p := g.pick(176, taken, macOwner); p != nil {
		q := g.pick(179, taken, macOwner)
		dp, dq := g.devicesOf(p)[0], g.devicesOf(q)[0]
		dock := g.mac("00:e0:4c")
		dp.macAddr2, dq.macAddr2 = dock, dock
		dq.edrSerial, dq.edrMAC, dq.edrHost = false, dock, "MacBook-Pro"
		g.tell("edr-agent-missing unknown: %s's and %s's laptops both list the dock adapter MAC %s in Jamf; %s's only CrowdStrike record (%s) has no serial, that MAC and the factory name MacBook-Pro, so it could be either laptop: onus does not guess, %s's edr-agent-missing is unknown with the possible match, and onus link %s edr:%s confirms it",
			p.email, q.email, dock, dq.hostname, dq.edrID, dq.hostname, "device:serial:"+dq.serial, dq.edrID)
	}
	// A background check filed under a personal address, without the
	// employee id: only the name matches.
	if p := g.pick(182, taken, anyone); p != nil {
		p.candEmail = strings.ToLower(p.first+"."+p.last) + "@gmail.com"
		p.candNoEmpID = true
		p.hired = now.Add(-40 * day)
		p.reports = []report{{id: g.hex(24), status: "complete", result: "clear", created: now.Add(-50 * day), completed: now.Add(-46 * day)}}
		g.tell("background-check-complete unknown: %s's Checkr candidate %s has no employee id and the address %s; only the name matches, so onus shows the possible match and the check is unknown, not failed; onus link person:employee_id:%s checkr:%s confirms it",
			p.email, p.candID, p.candEmail, strings.TrimLeft(p.empID, "0"), p.candID)
	}
	// A periodic re-screen in progress after a clear report: the latest
	// report is pending, an earlier one is clear.
	if p := g.pick(185, taken, anyone); p != nil {
		if len(p.reports) == 0 {
			p.reports = []report{{id: g.hex(24), status: "complete", result: "clear", created: p.hired.Add(-20 * day), completed: p.hired.Add(-16 * day)}}
		}
		p.reports = append(p.reports, report{id: g.hex(24), status: "pending", created: now.Add(-3 * day)})
		g.tell("not a gap: %s has a clear Checkr report and a periodic re-screen in progress since %s; the control checks every report, not only the latest",
			p.email, now.Add(-3*day).Format("2 Jan"))
	}
}

// Write writes every export under dir.
func (g *Org) Write(dir string) error {
	for _, step := range []struct {
		name string
		fn   func(*bufio.Writer) error
	}{
		{"hr/people.csv", g.writeHR},
		{"jamf/computers-inventory.json", g.writeJamf},
		{"intune/managedDevices.json", g.writeIntune},
		{"crowdstrike/devices.json", g.writeFalcon},
		{"okta/users.json", g.writeOktaUsers},
		{"okta/factors.ndjson", g.writeOktaFactors},
		{"checkr/candidates.json", g.writeCandidates},
		{"checkr/reports.json", g.writeReports},
		{"osquery/osqueryd.results.log", g.writeOsquery},
		{"catalog/latest-versions.csv", g.writeCatalog},
	} {
		path := filepath.Join(dir, step.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if err := step.fn(w); err != nil {
			f.Close()
			return fmt.Errorf("orggen: %s: %w", step.name, err)
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

func ts(t time.Time) string      { return t.UTC().Format("2006-01-02T15:04:05Z") }
func tsMilli(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
func date(t time.Time) string    { return t.UTC().Format("2006-01-02") }

func q(s string) string { return strconv.Quote(s) }

func (g *Org) writeHR(w *bufio.Writer) error {
	w.WriteString("Employee ID,First Name,Last Name,Work Email,Department,Job Title,Manager Email,Hire Date,Termination Date,Employment Status,Location,Time Zone\n")
	for _, p := range g.people {
		mgr := ""
		if p.manager != nil {
			mgr = p.manager.email
		}
		term := ""
		if !p.terminated.IsZero() {
			term = date(p.terminated)
		}
		fmt.Fprintf(w, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", p.empID, p.first, p.last, p.email, p.dept, p.title, mgr,
			date(p.hired), term, p.status, p.location, p.tz)
	}
	return nil
}

func (g *Org) writeJamf(w *bufio.Writer) error {
	var recs []*device
	for _, d := range g.devices {
		if d.mac {
			recs = append(recs, d)
			if d.dupJamf != nil {
				recs = append(recs, d.dupJamf)
			}
		}
	}
	fmt.Fprintf(w, "{\n  \"totalCount\": %d,\n  \"results\": [", len(recs))
	for i, d := range recs {
		if i > 0 {
			w.WriteString(",")
		}
		user, real, email, pos := d.owner.username, d.owner.first+" "+d.owner.last, d.owner.email, d.owner.title
		if d.noOwner {
			user, real, email, pos = "", "", "", ""
		}
		fv := "ALL_ENCRYPTED"
		if !d.encrypted {
			fv = "NOT_ENCRYPTED"
		}
		fmt.Fprintf(w, `
    {
      "id": "%d",
      "udid": %s,
      "general": {
        "name": %s,
        "lastIpAddress": "10.20.%d.%d",
        "platform": "Mac",
        "assetTag": "ACME-%05d",
        "remoteManagement": {"managed": true},
        "supervised": true,
        "reportDate": %s,
        "lastContactTime": %s,
        "lastEnrolledDate": %s,
        "enrolledViaAutomatedDeviceEnrollment": true,
        "userApprovedMdm": true
      },
      "hardware": {
        "make": "Apple",
        "model": %s,
        "modelIdentifier": "Mac15,6",
        "serialNumber": %s,
        "macAddress": %s,
        "altMacAddress": %s,
        "appleSilicon": true
      },
      "userAndLocation": {"username": %s, "realname": %s, "email": %s, "position": %s},
      "operatingSystem": {"name": "macOS", "version": %s, "build": "24B91", "fileVault2Status": %s}
    }`, d.jamfID, q(d.udid), q(d.hostname), d.jamfID/250, d.jamfID%250, d.jamfID, q(ts(d.lastContact)), q(ts(d.lastContact)), q(ts(d.enrolled)),
			q(d.model), q(d.serial), q(strings.ToUpper(d.macAddr)), q(strings.ToUpper(d.macAddr2)), q(user), q(real), q(email), q(pos), q(d.os), q(fv))
	}
	w.WriteString("\n  ]\n}\n")
	return nil
}

func (g *Org) writeIntune(w *bufio.Writer) error {
	w.WriteString(`{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#deviceManagement/managedDevices",
  "value": [`)
	first := true
	for _, d := range g.devices {
		if d.mac {
			continue
		}
		if !first {
			w.WriteString(",")
		}
		first = false
		upn := d.owner.email
		fmt.Fprintf(w, `
    {
      "@odata.type": "#microsoft.graph.managedDevice",
      "id": %s,
      "userId": %s,
      "deviceName": %s,
      "managedDeviceOwnerType": "company",
      "enrolledDateTime": %s,
      "lastSyncDateTime": %s,
      "operatingSystem": "Windows",
      "complianceState": "compliant",
      "managementAgent": "mdm",
      "osVersion": %s,
      "azureADRegistered": true,
      "emailAddress": %s,
      "azureADDeviceId": %s,
      "isEncrypted": %t,
      "userPrincipalName": %s,
      "model": %s,
      "manufacturer": "LENOVO",
      "serialNumber": %s,
      "userDisplayName": %s,
      "wiFiMacAddress": %s,
      "ethernetMacAddress": %s
    }`, q(strings.ToLower(d.udid)), q(strings.ToLower(g.uuidFor(d.owner))), q(d.hostname), q(ts(d.enrolled)), q(tsMilli(d.lastContact)), q(d.os),
			q(upn), q(strings.ToLower(d.udid[:8])+"-0000-4000-8000-"+strings.ToLower(d.udid[24:])), d.encrypted, q(upn), q(d.model), q(d.serial),
			q(d.owner.first+" "+d.owner.last), q(strings.ReplaceAll(d.macAddr, ":", "")), q(strings.ReplaceAll(d.macAddr2, ":", "")))
	}
	w.WriteString("\n  ]\n}\n")
	return nil
}

func (g *Org) uuidFor(p *person) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", p.idx, p.idx*7919)
}

func (g *Org) writeFalcon(w *bufio.Writer) error {
	var recs []*device
	for _, d := range g.devices {
		if d.inEDR {
			recs = append(recs, d)
		}
	}
	fmt.Fprintf(w, `{
    "meta": {
        "query_time": 0.01842,
        "pagination": {"offset": 0, "limit": %d, "total": %d},
        "powered_by": "device-api",
        "trace_id": "6f2c3a1e-8d0b-4c1f-9a57-2b8e4d9c1a63"
    },
    "errors": [],
    "resources": [`, max(len(recs), 1), len(recs))
	for i, d := range recs {
		if i > 0 {
			w.WriteString(",")
		}
		host := d.hostname
		if d.edrHost != "" {
			host = d.edrHost
		}
		if d.edrFQDN {
			host = strings.ToLower(host) + ".corp.acme.com"
		}
		edrMAC := d.macAddr
		if d.edrMAC != "" {
			edrMAC = d.edrMAC
		}
		serial := d.serial
		if !d.edrSerial {
			serial = ""
		}
		platform, osv, prod := "Mac", "Sequoia (15)", "MacBookPro18,3"
		if !d.mac {
			platform, osv, prod = "Windows", "Windows 11", "21HMCTO1WW"
		}
		fmt.Fprintf(w, `
        {
            "device_id": %s,
            "cid": "20879a8064904ecfbb62c118a6a19411",
            "agent_load_flags": "1",
            "agent_local_time": %s,
            "agent_version": "7.18.18902.0",
            "config_id_base": "65994763",
            "config_id_build": "18902",
            "external_ip": "203.0.113.%d",
            "mac_address": %s,
            "hostname": %s,
            "first_seen": %s,
            "last_seen": %s,
            "local_ip": "10.20.%d.%d",
            "os_version": %s,
            "platform_name": %s,
            "product_type_desc": "Workstation",
            "provision_status": "Provisioned",
            "serial_number": %s,
            "status": "normal",
            "system_manufacturer": %s,
            "system_product_name": %s,
            "tags": [],
            "modified_timestamp": %s,
            "meta": {"version": "%d"}
        }`, q(d.edrID), q(tsMilli(d.edrLastSeen)), i%250, q(strings.ReplaceAll(edrMAC, ":", "-")), q(host), q(ts(d.enrolled)), q(ts(d.edrLastSeen)),
			i/250%250, i%250, q(osv), q(platform), q(serial), q(map[bool]string{true: "Apple Inc.", false: "LENOVO"}[d.mac]), q(prod), q(ts(d.edrLastSeen)), 100+i%900)
	}
	w.WriteString("\n    ]\n}\n")
	return nil
}

func (g *Org) writeOktaUsers(w *bufio.Writer) error {
	w.WriteString("[")
	for i, p := range g.people {
		if i > 0 {
			w.WriteString(",")
		}
		created := p.hired.Add(-3 * 24 * time.Hour)
		last := g.opts.Now.Add(-time.Duration(p.idx%47) * time.Hour)
		if p.status == "Terminated" {
			last = p.terminated.Add(-time.Duration(p.idx%30) * time.Hour)
		}
		changed := created
		if !p.terminated.IsZero() {
			changed = p.terminated
		}
		fmt.Fprintf(w, `
  {
    "id": %s,
    "status": %s,
    "created": %s,
    "activated": %s,
    "statusChanged": %s,
    "lastLogin": %s,
    "lastUpdated": %s,
    "passwordChanged": %s,
    "type": {"id": "oty1162QAr8hJjTaq0g4"},
    "profile": {
      "firstName": %s,
      "lastName": %s,
      "mobilePhone": null,
      "secondEmail": null,
      "login": %s,
      "email": %s,
      "employeeNumber": %s,
      "department": %s,
      "title": %s
    },
    "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
    "_links": {"self": {"href": "https://acme.okta.com/api/v1/users/%s"}}
  }`, q(p.oktaID), q(p.oktaStatus), q(tsMilli(created)), q(tsMilli(created)), q(tsMilli(changed)), q(tsMilli(last)), q(tsMilli(changed)), q(tsMilli(created)),
			q(p.first), q(p.last), q(p.oktaLogin), q(p.oktaLogin), q(strings.TrimLeft(p.empID, "0")), q(p.dept), q(p.title), p.oktaID)
	}
	w.WriteString("\n]\n")
	return nil
}

// writeOktaFactors writes one line per user: the user's id and the body of
// GET /api/v1/users/{id}/factors, which is how an export script collects them.
func (g *Org) writeOktaFactors(w *bufio.Writer) error {
	for _, p := range g.people {
		fmt.Fprintf(w, `{"userId":%s,"factors":[`, q(p.oktaID))
		for i, f := range p.factors {
			if i > 0 {
				w.WriteString(",")
			}
			status := "ACTIVE"
			if strings.HasPrefix(f, "!") {
				f, status = f[1:], "PENDING_ACTIVATION"
			}
			provider, vendor := "OKTA", "OKTA"
			if f == "webauthn" {
				provider, vendor = "FIDO", "FIDO"
			}
			created := tsMilli(p.hired.Add(time.Duration(i+1) * time.Hour))
			profile := `{"credentialId":` + q(p.oktaLogin) + `}`
			if f == "sms" {
				profile = fmt.Sprintf(`{"phoneNumber":"+1-555-01%02d-%04d"}`, p.idx%100, p.idx%10000)
			}
			fmt.Fprintf(w, `{"id":"%s%s","factorType":%s,"provider":%s,"vendorName":%s,"status":%s,"created":%s,"lastUpdated":%s,"profile":%s,"_links":{"self":{"href":"https://acme.okta.com/api/v1/users/%s/factors/%s%s"}}}`,
				f[:3], p.oktaID[3:], q(f), q(provider), q(vendor), q(status), q(created), q(created), profile, p.oktaID, f[:3], p.oktaID[3:])
		}
		w.WriteString("]}\n")
	}
	return nil
}

func (g *Org) writeCandidates(w *bufio.Writer) error {
	w.WriteString(`{"data": [`)
	n := 0
	for _, p := range g.people {
		if n > 0 {
			w.WriteString(",")
		}
		n++
		ids := make([]string, len(p.reports))
		for i, r := range p.reports {
			ids[i] = q(r.id)
		}
		customID := p.empID
		if p.candNoEmpID {
			customID = ""
		}
		fmt.Fprintf(w, `
  {"id": %s, "object": "candidate", "uri": "/v1/candidates/%s", "created_at": %s, "first_name": %s, "last_name": %s, "email": %s, "custom_id": %s, "report_ids": [%s]}`,
			q(p.candID), p.candID, q(ts(p.hired.Add(-30*24*time.Hour))), q(p.first), q(p.last), q(p.candEmail), q(customID), strings.Join(ids, ", "))
	}
	fmt.Fprintf(w, "\n], \"object\": \"list\", \"next_href\": null, \"previous_href\": null, \"count\": %d}\n", n)
	return nil
}

func (g *Org) writeReports(w *bufio.Writer) error {
	w.WriteString(`{"data": [`)
	n := 0
	for _, p := range g.people {
		for _, r := range p.reports {
			if n > 0 {
				w.WriteString(",")
			}
			n++
			result, completed, tat := "null", "null", "null"
			if r.status == "complete" {
				result, completed = q(r.result), q(ts(r.completed))
				tat = strconv.Itoa(int(r.completed.Sub(r.created).Seconds()))
			}
			fmt.Fprintf(w, `
  {"id": %s, "object": "report", "uri": "/v1/reports/%s", "status": %s, "result": %s, "adjudication": null, "package": "tasker_pro", "created_at": %s, "completed_at": %s, "turnaround_time": %s, "candidate_id": %s}`,
				q(r.id), r.id, q(r.status), result, q(ts(r.created)), completed, tat, q(p.candID))
		}
	}
	fmt.Fprintf(w, "\n], \"object\": \"list\", \"next_href\": null, \"previous_href\": null, \"count\": %d}\n", n)
	return nil
}

// writeOsquery writes a results log: one snapshot line per host for the
// software query, then for some hosts a differential update.
func (g *Org) writeOsquery(w *bufio.Writer) error {
	t := g.opts.Now.Add(-6 * time.Hour)
	buf := make([]byte, 0, 16<<10)
	for _, d := range g.devices {
		if !d.osquery || len(d.apps) == 0 {
			continue
		}
		buf = g.osqLine(buf[:0], d, t, "snapshot", d.apps)
		w.Write(buf)
	}
	// Later in the day a few hosts update an app: osquery logs the change
	// as a removed and an added row.
	t2 := g.opts.Now.Add(-2 * time.Hour)
	n := 0
	for _, d := range g.devices {
		if !d.osquery || len(d.apps) < 2 || d.apps[1].app == nil || d.apps[1].version == d.apps[1].app.latest || n >= 3 {
			continue
		}
		if g.opts.Story && (d.owner == nil || d.owner.idx%17 == 3) {
			continue
		}
		old := d.apps[1]
		newer := old
		newer.version = old.app.latest
		buf = g.osqLine(buf[:0], d, t2, "removed", []install{old})
		w.Write(buf)
		buf = g.osqLine(buf[:0], d, t2, "added", []install{newer})
		w.Write(buf)
		d.apps[1] = newer
		n++
	}
	return nil
}

func (g *Org) osqLine(b []byte, d *device, t time.Time, action string, apps []install) []byte {
	user := d.owner.username
	if d.noOwner {
		user = ""
	}
	row := func(b []byte, a install) []byte {
		id := ""
		if a.app != nil && d.mac {
			id = a.app.bundle
		}
		src := "apps"
		if !d.mac {
			src = "programs"
		}
		b = append(b, `{"name":`...)
		b = strconv.AppendQuote(b, a.name)
		b = append(b, `,"version":`...)
		b = strconv.AppendQuote(b, a.version)
		b = append(b, `,"identifier":`...)
		b = strconv.AppendQuote(b, id)
		b = append(b, `,"path":`...)
		b = strconv.AppendQuote(b, a.path)
		b = append(b, `,"source":"`...)
		b = append(b, src...)
		b = append(b, `"}`...)
		return b
	}
	b = append(b, `{"name":"pack_acme_software_inventory","hostIdentifier":`...)
	b = strconv.AppendQuote(b, d.hostname)
	b = append(b, `,"calendarTime":"`...)
	b = append(b, t.Format("Mon Jan _2 15:04:05 2006 UTC")...)
	b = append(b, `","unixTime":`...)
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, `,"epoch":0,"counter":0,"numerics":false,"decorations":{"host_uuid":`...)
	b = strconv.AppendQuote(b, strings.ToLower(d.udid))
	b = append(b, `,"username":`...)
	b = strconv.AppendQuote(b, user)
	b = append(b, '}')
	switch action {
	case "snapshot":
		b = append(b, `,"snapshot":[`...)
		for i, a := range apps {
			if i > 0 {
				b = append(b, ',')
			}
			b = row(b, a)
		}
		b = append(b, `],"action":"snapshot"}`...)
	default:
		b = append(b, `,"columns":`...)
		b = row(b, apps[0])
		b = append(b, `,"action":"`...)
		b = append(b, action...)
		b = append(b, `"}`...)
	}
	return append(b, '\n')
}

func (g *Org) writeCatalog(w *bufio.Writer) error {
	w.WriteString("name,bundle_id,windows_name,latest_version,released\n")
	for _, a := range catalog {
		fmt.Fprintf(w, "%s,%s,%s,%s,%s\n", a.name, a.bundle, a.winName, a.latest, a.released)
	}
	return nil
}

// Expected is what a correct correlation and evaluation of a generated
// organisation give, known from how it was generated.
type Expected struct {
	// Devices is the number of laptops: one entity each, whatever their
	// records share or lack.
	Devices int
	// EDRMissing counts the managed laptops seen in the last 30 days with
	// no EDR record: the edr-agent-missing findings. MissingEDR holds
	// their serial numbers.
	EDRMissing int
	MissingEDR map[string]bool
	// NoBackground counts the people hired more than 14 days ago, still
	// here, with no clear report: the background-check-complete findings.
	NoBackground int
}

// Expect returns what a correct run on the organisation finds.
func (g *Org) Expect() Expected {
	x := Expected{MissingEDR: map[string]bool{}}
	now := g.opts.Now
	for _, d := range g.devices {
		x.Devices++
		if !d.inEDR && d.lastContact.After(now.Add(-720*time.Hour)) {
			x.EDRMissing++
			x.MissingEDR[d.serial] = true
		}
	}
	for _, p := range g.people {
		if p.status == "Terminated" || !p.hired.Before(now.Add(-336*time.Hour)) {
			continue
		}
		clear := false
		for _, r := range p.reports {
			clear = clear || (r.status == "complete" && r.result == "clear")
		}
		if !clear {
			x.NoBackground++
		}
	}
	return x
}

// Counts returns what was generated.
func (g *Org) Counts() (people, devices, software int) {
	for _, d := range g.devices {
		software += len(d.apps)
	}
	return len(g.people), len(g.devices), software
}
