package main

import (
	"errors"
	"strings"
	"testing"
)

// Output of etcd's benchmark tool (v3.6.8, --precise) as recorded by a run,
// preceded by noise of the kind gRPC logs to the same stream.
const sampleOK = `2026/11/24 05:12:03 INFO: [core] Channel Connectivity change to READY
20000 / 20000 [----] 100.00% 11296 p/s
Summary:
  Total:	1.770407131 secs.
  Slowest:	0.309796713 secs.
  Fastest:	0.009280694 secs.
  Average:	0.08164319740989963 secs.
  Stddev:	0.04427194777925345 secs.
  Requests/sec:	11296.836557986051

Response time histogram:
  0.009280694 [1]	|
  0.0393322959 [2481]	|∎∎∎∎∎∎∎∎∎∎∎∎∎∎
  0.309796713 [116]	|

Latency distribution:
  10% in 0.03511083 secs.
  50% in 0.071771713 secs.
  99% in 0.240345631 secs.
  99.9% in 0.306493702 secs.
`

const sampleErrors = `Summary:
  Total:	2.5 secs.
  Slowest:	0.5 secs.
  Fastest:	0.001 secs.
  Average:	0.01 secs.
  Stddev:	0.02 secs.
  Requests/sec:	1000

Response time histogram:
  0.001 [3]	|∎∎

Latency distribution:
  50% in 0.01 secs.
  99% in 1e-05 secs.

Error distribution:
  [7]	rpc error: code = Unavailable desc = connection refused
  [2]	etcdserver: request timed out
`

const sampleAllFailed = `some log line
Error distribution:
  [10]	rpc error: code = Unavailable desc = no leader
`

func TestParseSummary(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		rps     float64
		p50     float64
		p99     float64
		failed  int
		wantErr error
		errText string
	}{
		{name: "ok", out: sampleOK, rps: 11296.836557986051, p50: 0.071771713, p99: 0.240345631},
		{name: "with errors", out: sampleErrors, rps: 1000, p50: 0.01, p99: 1e-05, failed: 9},
		{name: "all failed", out: sampleAllFailed, failed: 10, wantErr: errNoSummary},
		{name: "empty", out: "", wantErr: errNoSummary},
		{name: "no rps", out: "Summary:\n  Total:\t1 secs.\n", errText: "no Requests/sec"},
		{name: "no p99", out: "Summary:\n  Requests/sec:\t5\n\nLatency distribution:\n  50% in 0.1 secs.\n", errText: "no 99%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSummary(tt.out)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.errText != "":
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errText)
				}
				return
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			}
			if s.ReqPerSec != tt.rps || s.Latency["50"] != tt.p50 || s.Latency["99"] != tt.p99 {
				t.Errorf("rps %v p50 %v p99 %v, want %v %v %v", s.ReqPerSec, s.Latency["50"], s.Latency["99"], tt.rps, tt.p50, tt.p99)
			}
			if s.Failed() != tt.failed {
				t.Errorf("failed = %d, want %d (%v)", s.Failed(), tt.failed, s.Errors)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	o := Options{Repeat: -1, Systems: []string{"etcd", "zk"}, Nodes: []int{2}, Scale: -1}
	o.EnsureDefaults()
	err := o.Validate()
	for _, want := range []string{"-repeat -1", `unknown system "zk"`, "2 nodes", "-scale -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	var d Options
	d.EnsureDefaults()
	if err := d.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestRotate(t *testing.T) {
	s := []string{"a", "b", "c"}
	for k, want := range []string{"abc", "bca", "cab", "abc"} {
		if got := strings.Join(rotate(s, k), ""); got != want {
			t.Errorf("rotate(%d) = %s, want %s", k, got, want)
		}
	}
}
