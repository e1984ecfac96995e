package bench

import (
	"errors"
	"math"
	"testing"

	"github.com/google/pprof/profile"
)

// TestEngineShare: a sample is the engine's when its innermost etcdlab
// frame is the engine's adapter, or when it has no etcdlab frame and has an
// engine library frame (inlined ones included); GC, shared code and harness
// code calling into the engine's library are not.
func TestEngineShare(t *testing.T) {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	fPebble := fn(1, "github.com/cockroachdb/pebble/v2.(*DB).Get")
	fAdapter := fn(2, "etcdlab/engines/pebble.(*view).Get")
	fMVCC := fn(3, "etcdlab/mvcc.(*Store).Range")
	fGC := fn(4, "runtime.gcBgMarkWorker")
	fSnappy := fn(5, "github.com/golang/snappy.Decode")
	fVFS := fn(6, "github.com/cockroachdb/pebble/v2/vfs.(*linuxFile).SyncData")
	fWAL := fn(7, "etcdlab/cluster/wal.(*WAL).sync")
	fCompact := fn(8, "github.com/cockroachdb/pebble/v2.(*DB).compact1")
	fMeta := fn(9, "etcdlab/internal/vfsutil.(*metaFile).Write")
	fCount := fn(10, "etcdlab/engines/pebble.(*countingFile).Write")
	fAssist := fn(11, "runtime.gcAssistAlloc")
	fMalloc := fn(12, "runtime.mallocgc")
	loc := func(id uint64, fs ...*profile.Function) *profile.Location {
		l := &profile.Location{ID: id}
		for _, f := range fs {
			l.Line = append(l.Line, profile.Line{Function: f})
		}
		return l
	}
	lPebble, lAdapter, lMVCC, lGC := loc(1, fPebble), loc(2, fAdapter), loc(3, fMVCC), loc(4, fGC)
	lInlined := loc(5, fSnappy, fPebble) // snappy inlined into a pebble frame
	lVFS, lWAL, lCompact := loc(6, fVFS), loc(7, fWAL), loc(8, fCompact)
	lMeta, lCount := loc(9, fMeta), loc(10, fCount)
	lAssist, lMalloc := loc(11, fAssist), loc(12, fMalloc)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Function:   []*profile.Function{fPebble, fAdapter, fMVCC, fGC, fSnappy, fVFS, fWAL, fCompact, fMeta, fCount, fAssist, fMalloc},
		Location:   []*profile.Location{lPebble, lAdapter, lMVCC, lGC, lInlined, lVFS, lWAL, lCompact, lMeta, lCount, lAssist, lMalloc},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{lPebble, lAdapter, lMVCC}, Value: []int64{1, 10}},      // engine
			{Location: []*profile.Location{lMVCC}, Value: []int64{1, 10}},                         // mvcc
			{Location: []*profile.Location{lGC}, Value: []int64{2, 20}},                           // GC
			{Location: []*profile.Location{lInlined, lCompact}, Value: []int64{1, 10}},            // engine: a compaction goroutine
			{Location: []*profile.Location{lVFS, lWAL, lMVCC}, Value: []int64{2, 20}},             // the raft WAL through pebble's vfs: harness
			{Location: []*profile.Location{lVFS, lMeta, lWAL}, Value: []int64{1, 10}},             // the same through a shared helper
			{Location: []*profile.Location{lVFS, lMeta, lCount, lCompact}, Value: []int64{1, 10}}, // the engine's own IO through it
			{Location: []*profile.Location{lAssist, lMalloc, lMVCC}, Value: []int64{1, 10}},       // GC: a mark assist in the harness's allocation
			{Location: []*profile.Location{lAssist, lMalloc, lPebble}, Value: []int64{1, 10}},     // GC: the same in the engine's
		},
	}
	sh, err := shares(p, []string{"github.com/cockroachdb/", "etcdlab/engines/pebble."})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sh.Engine-30.0/110) > 1e-9 || math.Abs(sh.GC-40.0/110) > 1e-9 || sh.Samples != 11 {
		t.Fatalf("shares %+v, want engine 3/11 and GC 4/11 over 11 samples", sh)
	}
	p.SampleType = p.SampleType[:1]
	if _, err := shares(p, nil); !errors.Is(err, ErrProfiling) {
		t.Fatalf("a profile without cpu values: %v, want ErrProfiling", err)
	}
}
