package results

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

func encoded(t *testing.T, vals ...int64) (string, int64) {
	t.Helper()
	h := hdr.New(1000, 60e9, 3)
	for _, v := range vals {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := h.EncodeV2()
	if err != nil {
		t.Fatal(err)
	}
	return string(b), h.Max()
}

// TestReadHistLogMerges writes a log of two ops over three intervals and
// reads back one histogram per op holding every value of its intervals.
func TestReadHistLogMerges(t *testing.T) {
	var get1, get2, put []int64
	for i := int64(1); i <= 1000; i++ {
		get1 = append(get1, i*1000) // 1 µs .. 1 ms
		get2 = append(get2, 1e6+i*1000)
		put = append(put, 5e6)
	}
	p1, m1 := encoded(t, get1...)
	p2, m2 := encoded(t, get2...)
	p3, m3 := encoded(t, put...)
	ivs := []LogInterval{
		{Tag: "get", Start: 0, Length: time.Second, MaxNs: m1, Payload: p1},
		{Tag: "put", Start: 0, Length: time.Second, MaxNs: m3, Payload: p3},
		{Tag: "get", Start: time.Second, Length: time.Second, MaxNs: m2, Payload: p2},
	}
	var b bytes.Buffer
	if err := WriteHistogramLog(&b, time.Unix(1700000000, 0), "test", ivs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), LatencyLogFile)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadHistLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["get"] == nil || m["put"] == nil {
		t.Fatalf("tags: %v", m)
	}
	g := m["get"]
	if g.TotalCount() != 2000 {
		t.Fatalf("get count %d, want 2000", g.TotalCount())
	}
	// The median of the merged values is the boundary of the two intervals.
	if p50 := g.ValueAtQuantile(50); !near(p50, 1e6) {
		t.Fatalf("get p50 %d ns, want about 1e6", p50)
	}
	if mx := g.Max(); !near(mx, 2e6) {
		t.Fatalf("get max %d ns, want about 2e6", mx)
	}
	if p := m["put"].ValueAtQuantile(99.99); !near(p, 5e6) {
		t.Fatalf("put p99.99 %d", p)
	}
}

func TestReadHistLogErrors(t *testing.T) {
	good, _ := encoded(t, 1000)
	for name, text := range map[string]string{
		"tag without interval": "Tag=get\n",
		"too few columns":      "Tag=get,0.000,1.000," + "\n",
		"not a number":         "Tag=get,x,1.000,0.001," + good + "\n",
		"bad payload":          "Tag=get,0.000,1.000,0.001,AAAAnotbase64!!\n",
	} {
		t.Run(strings.ReplaceAll(name, " ", "-"), func(t *testing.T) {
			_, err := ParseHistLog(strings.NewReader("#[Histogram log format version 1.3]\n" + text))
			if !errors.Is(err, ErrBadHistLog) {
				t.Fatalf("err %v, want ErrBadHistLog", err)
			}
		})
	}
	if _, err := ReadHistLog(filepath.Join(t.TempDir(), "missing.hlog")); err == nil {
		t.Fatal("a missing log read without error")
	}
}

// near: within the histogram's 3 significant figures.
func near(got, want int64) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= want/500
}
