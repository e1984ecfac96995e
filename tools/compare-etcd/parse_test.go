package main

import (
	"errors"
	"slices"
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

// watch-latency output (v3.6.8 layout): the puts' summary, then the watch
// events', whose lower percentiles are 0 and so not printed.
const sampleWatchLatency = `30000 / 30000 [----] 100.00% 2980 p/s

Put summary:

Summary:
  Total:	3.01 secs.
  Slowest:	0.004 secs.
  Fastest:	0.001 secs.
  Average:	0.002 secs.
  Stddev:	0.0005 secs.
  Requests/sec:	99.7

Response time histogram:
  0.001 [10]	|∎∎

Latency distribution:
  10% in 0.0011 secs.
  50% in 0.0018 secs.
  99% in 0.0035 secs.
  99.9% in 0.004 secs.

Watch events summary:

Summary:
  Total:	3.02 secs.
  Slowest:	0.003 secs.
  Fastest:	0 secs.
  Average:	0.0001 secs.
  Stddev:	0.0002 secs.
  Requests/sec:	9933.7

Response time histogram:
  0 [20000]	|∎∎∎∎∎

Latency distribution:
  90% in 0.0002 secs.
  95% in 0.0004 secs.
  99% in 0.0009 secs.
  99.9% in 0.002 secs.
`

// txn-mixed output: the reads' summary, then the writes'.
const sampleTxnMixed = `bench with linearizable range
Total Read Ops: 1592
Details:
Summary:
  Total:	1.28 secs.
  Slowest:	0.02 secs.
  Fastest:	0.0002 secs.
  Average:	0.0005 secs.
  Stddev:	0.001 secs.
  Requests/sec:	1243.7

Latency distribution:
  50% in 0.00037 secs.
  99% in 0.0039 secs.

Total Write Ops: 408
Details:
Summary:
  Total:	1.28 secs.
  Slowest:	0.037 secs.
  Fastest:	0.0003 secs.
  Average:	0.001 secs.
  Stddev:	0.002 secs.
  Requests/sec:	318.6

Latency distribution:
  50% in 0.00066 secs.
  99% in 0.0059 secs.

Error distribution:
  [2]	etcdserver: request timed out
`

func TestParseOutputParts(t *testing.T) {
	head, parts, err := parseOutput("watch-latency", sampleWatchLatency)
	if err != nil {
		t.Fatal(err)
	}
	if head.ReqPerSec != 9933.7 || head.Latency["99"] != 0.0009 || parts["events"].ReqPerSec != 9933.7 {
		t.Errorf("headline = %+v, want the watch events' summary", head)
	}
	// 10% to 75% are not printed: they were 0.
	if v, ok := head.Latency["50"]; !ok || v != 0 {
		t.Errorf("events p50 = %v (present %v), want 0", v, ok)
	}
	if p := parts["put"]; p.ReqPerSec != 99.7 || p.Latency["99"] != 0.0035 || p.Latency["50"] != 0.0018 {
		t.Errorf("put part = %+v", p)
	}

	head, parts, err = parseOutput("txn-mixed", sampleTxnMixed)
	if err != nil {
		t.Fatal(err)
	}
	if head.ReqPerSec != 1243.7 || parts["read"].Latency["99"] != 0.0039 {
		t.Errorf("headline = %+v, want the reads' summary", head)
	}
	if w := parts["write"]; w.ReqPerSec != 318.6 || w.Latency["99"] != 0.0059 || w.Failed() != 2 {
		t.Errorf("write part = %+v", w)
	}
	m := Measurement{Summary: head, Parts: parts}
	if m.Failed() != 2 {
		t.Errorf("Failed() = %d, want 2", m.Failed())
	}

	// A part missing from the output is an error naming it.
	if _, _, err := parseOutput("txn-mixed", sampleOK); err == nil || !strings.Contains(err.Error(), "Total Read Ops") {
		t.Errorf("txn-mixed without its blocks: err = %v", err)
	}
	// A single-summary command reads the last Summary block as before.
	if s, parts, err := parseOutput("lease-keepalive", sampleOK); err != nil || parts != nil || s.ReqPerSec != 11296.836557986051 {
		t.Errorf("lease-keepalive: %+v %v %v", s, parts, err)
	}
}

func TestDefaultCasesValidate(t *testing.T) {
	names := caseNames(defaultCases(true, 1))
	for _, want := range []string{"watch-latency", "lease-keepalive c=1", "lease-keepalive c=1000", "txn-mixed c=1000"} {
		if !slices.Contains(names, want) {
			t.Errorf("no case %q in %v", want, names)
		}
	}
	o := Options{Cases: []string{"watch-latency", "txn-mixed c=1000"}}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		t.Error(err)
	}
}
