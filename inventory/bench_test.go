package inventory_test

import (
	"fmt"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/inventory"
)

// fleet builds n laptops as MDM, EDR and osquery see them: MDM with serial,
// UUID, two MACs and a host name; EDR with the serial (a tenth without it,
// through a USB adapter's MAC and an FQDN), osquery with the UUID.
func fleet(n int) inventory.Input {
	mdm := make([]onus.Record, n)
	edr := make([]onus.Record, n)
	osq := make([]onus.Record, n)
	for i := 0; i < n; i++ {
		serial := fmt.Sprintf("C02%09d", i)
		uuid := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		host := fmt.Sprintf("mbp-user%d", i)
		mac1 := fmt.Sprintf("a4:83:e7:%02x:%02x:%02x", i>>16&255, i>>8&255, i&255)
		mac2 := fmt.Sprintf("3c:22:fb:%02x:%02x:%02x", i>>16&255, i>>8&255, i&255)
		mdm[i] = onus.Record{ID: uuid, Name: host, Loc: i + 1, Keys: []onus.Key{{Name: "serial", Value: serial}, {Name: "uuid", Value: uuid}, {Name: "mac", Value: mac1}, {Name: "mac", Value: mac2}, {Name: "hostname", Value: host}}}
		if i%10 == 0 {
			adapter := fmt.Sprintf("00:e0:4c:%02x:%02x:%02x", i>>16&255, i>>8&255, i&255)
			edr[i] = onus.Record{ID: fmt.Sprintf("e%d", i), Loc: i + 1, Keys: []onus.Key{{Name: "mac", Value: adapter}, {Name: "hostname", Value: host}}}
		} else {
			edr[i] = onus.Record{ID: fmt.Sprintf("e%d", i), Loc: i + 1, Keys: []onus.Key{{Name: "serial", Value: serial}, {Name: "mac", Value: mac1}, {Name: "hostname", Value: host}}}
		}
		osq[i] = onus.Record{ID: uuid, Loc: i + 1, Keys: []onus.Key{{Name: "uuid", Value: uuid}, {Name: "hostname", Value: host}}}
	}
	src := func(name string, recs []onus.Record) inventory.SourceInput {
		return inventory.SourceInput{Name: name, Kind: "device", Creates: true, Healthy: true, Snapshot: &onus.Snapshot{Source: name, Kind: "device", Records: onus.RecordsOf(recs)}}
	}
	return inventory.Input{Correlate: map[string][]string{"device": {"serial", "uuid", "mac", "hostname"}},
		Sources: []inventory.SourceInput{src("mdm", mdm), src("edr", edr), src("osquery", osq)}}
}

// BenchmarkCorrelate100k correlates 100,000 laptops from three sources.
func BenchmarkCorrelate100k(b *testing.B) {
	in := fleet(100000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv, err := inventory.Build(in)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(inv.OfKind("device")); n != 100000 {
			b.Fatalf("%d devices", n)
		}
	}
}
