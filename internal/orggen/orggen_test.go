package orggen_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus/internal/orggen"
)

var update = flag.Bool("update", false, "rewrite examples/acme/exports and its story")

const acmeDir = "../../examples/acme"

// The committed example exports are exactly what the generator writes, so
// the example and its documented story cannot drift apart. Run with
// -update after changing the generator.
func TestAcmeUpToDate(t *testing.T) {
	// The committed exports describe the unshifted instant, whatever
	// ONUS_TEST_SHIFT says.
	opts := orggen.Acme()
	opts.Now = orggen.AcmeBase
	org := orggen.New(opts)
	dir := t.TempDir()
	if *update {
		dir = filepath.Join(acmeDir, "exports")
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := org.Write(dir); err != nil {
		t.Fatal(err)
	}
	story := orggen.StoryHeader + strings.Join(org.Story, "\n") + "\n"
	storyPath := filepath.Join(acmeDir, "STORY.txt")
	if *update {
		if err := os.WriteFile(storyPath, []byte(story), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, _ := os.ReadFile(storyPath)
	if string(got) != story {
		t.Errorf("%s is out of date; run go test ./internal/orggen -update", storyPath)
	}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		want, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(acmeDir, "exports", rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if !bytes.Equal(got, want) {
			t.Errorf("examples/acme/exports/%s differs from the generator's output; run go test ./internal/orggen -update", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := orggen.New(orggen.Large(500)).Write(a); err != nil {
		t.Fatal(err)
	}
	if err := orggen.New(orggen.Large(500)).Write(b); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"hr/people.csv", "osquery/osqueryd.results.log", "crowdstrike/devices.json"} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with one seed", f)
		}
	}
	people, devices, software := orggen.New(orggen.Large(1000)).Counts()
	if people != 1000 || devices < 1150 || devices > 1450 || software < 30*devices {
		t.Errorf("Large(1000) made %d people, %d devices, %d software rows", people, devices, software)
	}
}
