package gate_test

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus/gate"
)

// benchPlan builds a plan with n resource changes of the types the bundled
// pack reads, a tenth of them failing and a tenth with unknown values.
func benchPlan(n int) []byte {
	rcs := make([]map[string]any, n)
	for i := range rcs {
		var typ string
		var after map[string]any
		unknown := map[string]any{"id": true, "arn": true}
		switch i % 5 {
		case 0:
			typ, after = "aws_security_group", map[string]any{"name": fmt.Sprint("sg", i), "ingress": []any{map[string]any{
				"cidr_blocks": []any{"10.0.0.0/8"}, "ipv6_cidr_blocks": []any{}, "from_port": 443, "to_port": 443, "protocol": "tcp"}}}
		case 1:
			typ, after = "aws_s3_bucket_acl", map[string]any{"acl": "private"}
			unknown["bucket"] = true
		case 2:
			typ, after = "aws_iam_policy", map[string]any{"policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`}
		case 3:
			typ, after = "aws_db_instance", map[string]any{"engine": "postgres", "storage_encrypted": i%10 != 3}
		case 4:
			typ, after = "aws_instance", map[string]any{"ami": "ami-1", "root_block_device": []any{map[string]any{"encrypted": true}}, "tags": map[string]any{"Name": "x"}}
		}
		rcs[i] = map[string]any{"address": fmt.Sprintf("%s.r%d", typ, i), "mode": "managed", "type": typ, "name": fmt.Sprint("r", i),
			"provider_name": "registry.terraform.io/hashicorp/aws",
			"change":        map[string]any{"actions": []any{"create"}, "before": nil, "after": after, "after_unknown": unknown}}
	}
	b, _ := json.Marshal(map[string]any{"format_version": "1.2", "terraform_version": "1.9.5", "resource_changes": rcs})
	return b
}

// benchSARIF builds a trivy-shaped SARIF log with n results over 500 rules.
func benchSARIF(n int) []byte {
	rules := make([]any, 500)
	for i := range rules {
		rules[i] = map[string]any{"id": fmt.Sprintf("CVE-2024-%05d", i), "name": "OsPackageVulnerability",
			"shortDescription": map[string]any{"text": "a vulnerability"}, "defaultConfiguration": map[string]any{"level": "error"},
			"properties": map[string]any{"tags": []any{"vulnerability", "security", "HIGH"}, "security-severity": "7.5"}}
	}
	results := make([]any, n)
	for i := range results {
		results[i] = map[string]any{"ruleId": fmt.Sprintf("CVE-2024-%05d", i%500), "ruleIndex": i % 500, "level": "error",
			"message": map[string]any{"text": fmt.Sprintf("Package: lib%d\nInstalled Version: 1.0\nVulnerability CVE-2024-%05d", i, i%500)},
			"locations": []any{map[string]any{"physicalLocation": map[string]any{"artifactLocation": map[string]any{"uri": "go.mod"},
				"region": map[string]any{"startLine": 1 + i%300}}}}}
	}
	b, _ := json.Marshal(map[string]any{"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"runs": []any{map[string]any{"tool": map[string]any{"driver": map[string]any{"name": "Trivy", "rules": rules}}, "results": results}}})
	return b
}

func benchGate(b *testing.B, name string, data []byte) {
	pack := bundled(b)
	k := gate.KEV{"CVE-2024-00007": true, "CVE-2021-44228": true}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		kind, subs, err := gate.Parse(name, data, gate.ParseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rep, err := gate.Evaluate(subs, []gate.Input{{File: name, Kind: kind, Subjects: len(subs)}},
			gate.Options{Env: "production", Ladder: gate.DefaultLadder(), Pack: pack, KEV: k, Now: now})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Evaluated == 0 || len(rep.Results) == 0 {
			b.Fatal("nothing evaluated")
		}
	}
	// CPU time per operation (user + system, all threads): on a shared
	// machine the wall time also counts waiting for a core.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPlan10k: read and judge a plan with 10,000 resource changes.
func BenchmarkPlan10k(b *testing.B) { benchGate(b, "plan.json", benchPlan(10_000)) }

// BenchmarkSARIF50k: read and judge a SARIF log with 50,000 results.
func BenchmarkSARIF50k(b *testing.B) { benchGate(b, "scan.sarif", benchSARIF(50_000)) }
