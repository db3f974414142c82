package policy

import (
	"fmt"
	"strings"
)

// CompareVersions compares two version strings numerically, the way
// software inventories need: "120.0.6099.71" < "120.0.6099.129",
// "1.10" > "1.9", "1.2" == "1.2.0", "v2" == "2".
//
// The numeric part is compared segment by segment. A suffix after it is
// ranked: a pre-release ("-beta", "-rc1", "b2") comes before the release;
// build metadata ("+build.5") is ignored; any other suffix (a revision
// "-1ubuntu1" or "_1", a build " (23110819)") comes after the release, and
// two such suffixes compare in natural order.
//
// hashicorp/go-version was measured against the formats inventories
// report and refuses "16.79.2 (23110819)" and orders Debian revisions
// ("2.5.1-1ubuntu1") before the release, so onus keeps its own comparer.
//
// It returns an error when a string has no leading number.
func CompareVersions(a, b string) (int, error) {
	va, err := parseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.compare(vb), nil
}

type version struct {
	raw    string
	nums   []uint64
	rank   int // 0 pre-release, 1 release, 2 revision or build
	suffix string
}

func parseVersion(s string) (version, error) {
	v := version{raw: s, rank: 1}
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(strings.TrimPrefix(t, "v"), "V")
	i := 0
	for {
		start := i
		var n uint64
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			if n > (1<<63)/10 {
				return v, fmt.Errorf("version %q has a number too large to compare", s)
			}
			n = n*10 + uint64(t[i]-'0')
			i++
		}
		if i == start {
			if len(v.nums) == 0 {
				return v, fmt.Errorf("%q is not a version (it must start with a number)", s)
			}
			i-- // give back the dot that was not followed by a number
			break
		}
		v.nums = append(v.nums, n)
		if i < len(t) && t[i] == '.' && i+1 < len(t) && t[i+1] >= '0' && t[i+1] <= '9' {
			i++
			continue
		}
		break
	}
	rest := t[i:]
	rest = strings.TrimPrefix(rest, ".")
	if rest == "" {
		return v, nil
	}
	if rest[0] == '+' {
		return v, nil // build metadata does not order versions
	}
	low := strings.ToLower(strings.TrimLeft(rest, "-~._ "))
	for _, pre := range []string{"alpha", "beta", "rc", "pre", "preview", "dev", "snapshot", "a", "b"} {
		if strings.HasPrefix(low, pre) {
			after := low[len(pre):]
			// "a"/"b" count only as "a1", "b2" or alone, not as "build".
			if (pre == "a" || pre == "b") && after != "" && (after[0] < '0' || after[0] > '9') && after[0] != '.' {
				continue
			}
			v.rank, v.suffix = 0, low
			return v, nil
		}
	}
	v.rank, v.suffix = 2, low
	return v, nil
}

func (v version) compare(o version) int {
	n := max(len(v.nums), len(o.nums))
	for i := 0; i < n; i++ {
		var a, b uint64
		if i < len(v.nums) {
			a = v.nums[i]
		}
		if i < len(o.nums) {
			b = o.nums[i]
		}
		if a != b {
			if a < b {
				return -1
			}
			return 1
		}
	}
	if v.rank != o.rank {
		if v.rank < o.rank {
			return -1
		}
		return 1
	}
	return natural(v.suffix, o.suffix)
}

// natural compares strings with runs of digits compared as numbers.
func natural(a, b string) int {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		switch {
		case da && db:
			i, j := 0, 0
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na, nb := strings.TrimLeft(a[:i], "0"), strings.TrimLeft(b[:j], "0")
			if len(na) != len(nb) {
				if len(na) < len(nb) {
					return -1
				}
				return 1
			}
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
			a, b = a[i:], b[j:]
		default:
			if a[0] != b[0] {
				if a[0] < b[0] {
					return -1
				}
				return 1
			}
			a, b = a[1:], b[1:]
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
