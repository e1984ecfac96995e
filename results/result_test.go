package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

func sampleResult() *Result {
	r := New()
	r.Started = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.Config = Config{Layer: "mvcc", Engine: "bbolt", EngineOptions: "no-sync=false", Nodes: 1, Seed: 7,
		Workload: Workload{Name: "ycsb-a", Spec: "name: ycsb-a\n"}, Clients: 4, Loop: "closed", DurationS: 5,
		ReadConsistency: "linearizable", SnapshotCount: 10000, QuotaBytes: 2 << 30}
	r.Env = Env{GoVersion: "go1.26", GOOS: "linux", GOARCH: "amd64", GOMAXPROCS: 2, CPU: "Some CPU @ 2GHz",
		Kernel: "6.1", Filesystem: "ext4", Commit: "abc", FsyncP50Us: 150}
	r.Summary = Summary{Ops: 1000, Errors: 2, DurationS: 5, ThroughputOpsS: 200,
		Latency: Latency{P50Us: 10, P90Us: 20, P99Us: 30, P999Us: 40, MaxUs: 50, MeanUs: 12}}
	r.Ops["get"] = OpStats{Count: 600, P50Us: 8, P90Us: 15, P99Us: 25, P999Us: 35, MaxUs: 45, MeanUs: 9}
	r.Ops["put"] = OpStats{Count: 400, Errors: 2, P50Us: 12, P90Us: 22, P99Us: 32, P999Us: 42, MaxUs: 50, MeanUs: 14,
		Service: &Latency{P50Us: 1, P99Us: 2, MaxUs: 3}}
	r.Disk = Disk{BytesWritten: 4096, BytesWrittenSource: "proc-io", DBSizeBytes: 1 << 20, WriteAmplification: 2.5}
	r.Fsyncs = Fsyncs{Engine: 50}
	r.Memory = Memory{PeakRSSBytes: 1 << 26, PeakHeapBytes: 1 << 24}
	r.Events["backend-commit"] = 50
	return r
}

func TestRoundTrip(t *testing.T) {
	r := sampleResult()
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip changed the result:\n got %+v\nwant %+v", got, r)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ResultFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, ResultFile)} {
		got, err := Load(p)
		if err != nil {
			t.Fatalf("Load(%s): %v", p, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("Load(%s) differs", p)
		}
	}
}

func TestUnknownSchemaRefused(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"newer", `{"schema":"etcdlab/result/v2","summary":{"ops":1}}`, `"etcdlab/result/v2"`},
		{"foreign", `{"schema":"k6/summary"}`, `"k6/summary"`},
		{"missing", `{"summary":{"ops":1}}`, `no "schema" field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if !errors.Is(err, ErrUnknownSchema) {
				t.Fatalf("err = %v, want ErrUnknownSchema", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), SchemaV1) {
				t.Fatalf("error %q should name %s and the accepted %s", err, tc.want, SchemaV1)
			}
		})
	}
	if _, err := Parse([]byte(`{"schema":`)); !errors.Is(err, ErrBadResult) {
		t.Fatalf("truncated json: err = %v, want ErrBadResult", err)
	}
	r := sampleResult()
	r.Schema = "other"
	if _, err := r.Marshal(); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("Marshal with a foreign schema: err = %v", err)
	}
}

// TestRequiredFieldsPresent marshals a result and checks that every path
// scripts rely on is in the JSON, even when its value is zero.
func TestRequiredFieldsPresent(t *testing.T) {
	r := New() // all zero: omitempty must not hide a required field
	r.Ops["get"] = OpStats{}
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range RequiredFields() {
		if err := lookup(doc, strings.Split(path, ".")); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func lookup(v any, parts []string) error {
	if len(parts) == 0 {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return errors.New("not an object")
	}
	if parts[0] == "*" {
		if len(m) == 0 {
			return errors.New("no entries")
		}
		for k, sub := range m {
			if err := lookup(sub, parts[1:]); err != nil {
				return errors.New(k + ": " + err.Error())
			}
		}
		return nil
	}
	sub, ok := m[parts[0]]
	if !ok {
		return errors.New("missing " + parts[0])
	}
	return lookup(sub, parts[1:])
}

func TestStaging(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "run1")
	s, err := Stage(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile("x", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("out exists before Commit: %v", err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "x")); err != nil || string(b) != "y" {
		t.Fatalf("after Commit: %q %v", b, err)
	}
	if _, err := Stage(out); !errors.Is(err, ErrOutExists) {
		t.Fatalf("Stage of a non-empty dir: err = %v, want ErrOutExists", err)
	}
	// Abort leaves nothing behind.
	out2 := filepath.Join(parent, "run2")
	s2, err := Stage(out2)
	if err != nil {
		t.Fatal(err)
	}
	_ = s2.WriteFile("x", nil)
	if err := s2.Abort(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 || ents[0].Name() != "run1" {
		t.Fatalf("after Abort the parent holds %v", ents)
	}
	// An empty existing directory is accepted and replaced.
	out3 := filepath.Join(parent, "run3")
	if err := os.Mkdir(out3, 0o755); err != nil {
		t.Fatal(err)
	}
	s3, err := Stage(out3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := Stage(filepath.Join(parent, "no", "such", "parent")); err == nil {
		t.Fatal("Stage under a missing parent succeeded")
	}
}

func TestHistogramLogReadBack(t *testing.T) {
	h := hdr.New(1000, 60e9, 3)
	for i := int64(1); i <= 1000; i++ {
		_ = h.RecordValue(i * 1000)
	}
	payload, err := h.EncodeV2()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1700000000, 0)
	ivs := []LogInterval{
		{Tag: "get", Start: 0, Length: time.Second, MaxNs: h.Max(), Payload: string(payload)},
		{Tag: "put", Start: time.Second, Length: time.Second, MaxNs: h.Max(), Payload: string(payload)},
	}
	var b bytes.Buffer
	if err := WriteHistogramLog(&b, start, "test", ivs); err != nil {
		t.Fatal(err)
	}
	rd := hdr.NewHistogramLogReader(&b)
	var n int
	for {
		got, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			break
		}
		n++
		if got.TotalCount() != 1000 || got.ValueAtQuantile(50) != h.ValueAtQuantile(50) {
			t.Fatalf("interval %d: count %d p50 %d", n, got.TotalCount(), got.ValueAtQuantile(50))
		}
	}
	if n != 2 {
		t.Fatalf("read %d intervals, want 2", n)
	}
}

// benchLine is what benchstat's parser accepts: a name starting with
// Benchmark, an iteration count, then value-unit pairs.
var benchLine = regexp.MustCompile(`^Benchmark\S+\s+\d+(\s+[-+0-9.eE]+ \S+)+$`)

func TestWriteBench(t *testing.T) {
	var b bytes.Buffer
	if err := WriteBench(&b, sampleResult()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	for _, h := range []string{"goos: linux", "goarch: amd64", "pkg: etcdlab/bench", "cpu: Some CPU @ 2GHz"} {
		if !strings.Contains(b.String(), h+"\n") {
			t.Errorf("missing header %q", h)
		}
	}
	var runs int
	for _, l := range lines {
		if !strings.HasPrefix(l, "Benchmark") {
			continue
		}
		runs++
		if !benchLine.MatchString(l) {
			t.Errorf("not a benchmark line: %q", l)
		}
	}
	if runs != 3 {
		t.Fatalf("%d benchmark lines, want 3 (run, get, put):\n%s", runs, b.String())
	}
	if !strings.Contains(b.String(), "BenchmarkRun/layer=mvcc/engine=bbolt/nodes=1/workload=ycsb-a-2 \t1000\t") {
		t.Fatalf("run line not named as expected:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "30000 p99-ns") {
		t.Fatalf("p99 of the run not in ns:\n%s", b.String())
	}
}

func TestTimelineRoundTrip(t *testing.T) {
	in := []Sample{
		{Type: "interval", T: 0, LengthS: 1, Ops: 10, PerOp: map[string]IntervalOp{"get": {Count: 10, P50Us: 3}}},
		{Type: "event", T: 0.5, Kind: "snapshot", Node: 2, Detail: "index=100"},
	}
	var b bytes.Buffer
	if err := WriteTimeline(&b, in); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(b.String(), "\n"); got != 2 {
		t.Fatalf("%d lines, want 2", got)
	}
	out, err := ReadTimeline(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("timeline round trip: %+v", out)
	}
}
