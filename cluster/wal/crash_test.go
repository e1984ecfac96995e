package wal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"etcdlab/cluster/wal/waltest"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// A crash-test workload: what a raft node would hand the WAL.
type crashStep struct {
	snapshot bool // SaveSnapshot(snap) then ReleaseLockTo(snap.Index)
	st       raftpb.HardState
	ents     []raftpb.Entry
	snap     Snapshot
	sync     bool // raft.MustSync (a cut may sync a save that need not)
}

// oRec is a logical record as the oracle sees the stream.
type oRec struct {
	typ  byte
	ent  raftpb.Entry
	st   raftpb.HardState
	snap Snapshot
}

// genWorkload builds a raft-like sequence: appends, commit-only saves,
// leader changes that overwrite the uncommitted tail, and snapshots at the
// commit index.
func genWorkload(rng *rand.Rand, n int) []crashStep {
	var (
		steps            []crashStep
		term, vote       uint64 = 1, 1
		commit, last     uint64
		lastSnap         uint64
		terms            = map[uint64]uint64{0: 0}
		prev             raftpb.HardState
		appendN, dataMax = 4, 300
	)
	appendStep := func(at uint64, k int) crashStep {
		size := 8 + rng.IntN(dataMax)
		if rng.IntN(10) == 0 {
			// Now and then a batch spanning several 4 KiB blocks, so a
			// crash can keep a later block of it and lose an earlier one.
			size = 1000 + rng.IntN(3000)
		}
		ents := makeEnts(rng, at, term, k, size)
		for i := at; i < at+uint64(k); i++ {
			terms[i] = term
		}
		for i := at + uint64(k); i <= last; i++ {
			delete(terms, i)
		}
		last = at + uint64(k) - 1
		commit += uint64(rng.IntN(int(last-commit) + 1))
		return crashStep{st: raftpb.HardState{Term: term, Vote: vote, Commit: commit}, ents: ents}
	}
	for len(steps) < n {
		var s crashStep
		switch r := rng.IntN(100); {
		case r < 60 || last == 0:
			s = appendStep(last+1, 1+rng.IntN(appendN))
		case r < 72 && commit < last:
			commit += 1 + uint64(rng.IntN(int(last-commit)))
			s = crashStep{st: raftpb.HardState{Term: term, Vote: vote, Commit: commit}}
		case r < 82 && commit < last:
			term++
			vote = 1 + uint64(rng.IntN(3))
			at := commit + 1 + uint64(rng.IntN(int(last-commit)))
			s = appendStep(at, 1+rng.IntN(3))
		case commit > lastSnap:
			lastSnap = commit
			s = crashStep{snapshot: true, snap: Snapshot{Index: commit, Term: terms[commit], ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}}}}
		default:
			s = appendStep(last+1, 1)
		}
		if s.snapshot {
			s.sync = true
		} else {
			s.sync = raft.MustSync(s.st, prev, len(s.ents))
			prev = s.st
		}
		steps = append(steps, s)
	}
	return steps
}

func stepRecords(s crashStep) []oRec {
	if s.snapshot {
		return []oRec{{typ: snapshotType, snap: s.snap}}
	}
	var out []oRec
	for _, e := range s.ents {
		out = append(out, oRec{typ: entryType, ent: e})
	}
	return append(out, oRec{typ: stateType, st: s.st})
}

// oracleReplay is the naive model of reading a record prefix at snap: a map
// of index to entry where an entry drops every later index.
func oracleReplay(recs []oRec, snap Snapshot) (st raftpb.HardState, ents []raftpb.Entry, match bool) {
	log := map[uint64]raftpb.Entry{}
	var maxIdx uint64
	match = snap.Index == 0 && snap.Term == 0
	for _, r := range recs {
		switch r.typ {
		case entryType:
			for i := r.ent.Index; i <= maxIdx; i++ {
				delete(log, i)
			}
			log[r.ent.Index] = r.ent
			maxIdx = r.ent.Index
		case stateType:
			st = r.st
		case snapshotType:
			if r.snap.Index == snap.Index && r.snap.Term == snap.Term {
				match = true
			}
		}
	}
	for i := snap.Index + 1; ; i++ {
		e, ok := log[i]
		if !ok {
			break
		}
		ents = append(ents, e)
	}
	return st, ents, match
}

// countOp leaves out the background pipeline's own operations so that crash
// points are numbered deterministically; the foreground's writes, syncs and
// renames of the pipeline's file still count.
func countOp(op waltest.Op) bool {
	if isPipelineFile(op.Path) {
		switch op.Kind {
		case waltest.OpCreate, waltest.OpPrealloc, waltest.OpTruncate, waltest.OpRemove:
			return false
		}
	}
	return true
}

type crashOutcome struct {
	fired       bool
	ops         int
	repairs     int
	cuts        int
	nested      int // second crash points tried during recovery
	crashedStep int // -1: crash during Create; len(steps): during Close
}

// runCrashPoint runs the workload, crashing at the k-th counted operation,
// and checks recovery from the crash clone.
func runCrashPoint(t *testing.T, steps []crashStep, opts Options, k, keepPct int, seed uint64, nested bool) crashOutcome {
	t.Helper()
	mem := vfs.NewCrashableMem()
	rfs := waltest.Wrap(mem)
	var clone *vfs.MemFS
	cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: keepPct}
	if keepPct > 0 {
		cfg.RNG = newRNG(seed + uint64(k))
	}
	rfs.SetBefore(countOp, func(op waltest.Op, n int) error {
		if n == k {
			clone = mem.CrashClone(cfg)
			rfs.Crash()
			return waltest.ErrCrashed
		}
		return nil
	})
	meta := []byte("crash-meta")
	var recs []oRec
	bounds := []int{0} // bounds[i+1]: records through step i
	for _, s := range steps {
		recs = append(recs, stepRecords(s)...)
		bounds = append(bounds, len(recs))
	}
	out := crashOutcome{crashedStep: -1}
	acked := -1 // last step that returned nil after a sync
	var ackedSnap uint64
	expectCrash := func(err error, what string) {
		if err != nil && !errors.Is(err, waltest.ErrCrashed) {
			t.Fatalf("k=%d: %s: unexpected error %v", k, what, err)
		}
		if err != nil && clone == nil {
			t.Fatalf("k=%d: %s failed without a crash: %v", k, what, err)
		}
	}
	created := false
	wopts := opts
	wopts.OnEvent = func(e Event) {
		if e.Kind == EventCut {
			out.cuts++
		}
	}
	w, err := Create(rfs, "wal", meta, wopts)
	expectCrash(err, "Create")
	if err == nil {
		created = true
		out.crashedStep = len(steps)
		for i, s := range steps {
			if s.snapshot {
				err = w.SaveSnapshot(s.snap)
				if err == nil {
					acked, ackedSnap = i, s.snap.Index
					err = w.ReleaseLockTo(s.snap.Index)
				}
			} else {
				err = w.Save(s.st, s.ents)
				if err == nil && s.sync {
					acked = i
				}
			}
			if err != nil {
				expectCrash(err, fmt.Sprintf("step %d", i))
				out.crashedStep = i
				break
			}
		}
		cerr := w.Close()
		if out.crashedStep == len(steps) {
			expectCrash(cerr, "Close")
		}
	}
	out.ops = rfs.Count()
	if clone == nil {
		return out
	}
	out.fired = true

	// verify recovers from a crash image and checks it against the oracle;
	// it returns how many torn tails the recovery repaired.
	verify := func(img *vfs.MemFS, label string) (repairs int) {
		if !Exist(img, "wal") {
			if created {
				t.Fatalf("%s: Create returned but the WAL is gone after the crash", label)
			}
			return 0
		}
		snaps, err := ValidSnapshotEntries(img, "wal")
		if err != nil || len(snaps) == 0 {
			t.Fatalf("%s: ValidSnapshotEntries = %v, %v", label, snaps, err)
		}
		snap := snaps[len(snaps)-1]
		if snap.Index < ackedSnap {
			t.Fatalf("%s: newest valid marker %d older than acknowledged snapshot %d", label, snap.Index, ackedSnap)
		}
		ropts := opts
		ropts.OnEvent = func(e Event) {
			if e.Kind == EventRepair {
				repairs++
			}
		}
		w2, err := Open(img, "wal", snap, ropts)
		if err != nil {
			t.Fatalf("%s: Open: %v", label, err)
		}
		md, st, ents, err := w2.ReadAll()
		if err != nil {
			t.Fatalf("%s (step %d): ReadAll: %v", label, out.crashedStep, err)
		}
		if string(md) != string(meta) {
			t.Fatalf("%s: metadata %q", label, md)
		}
		// What was synced must be there; beyond it only a prefix of what was
		// attempted, with nothing after a gap.
		low := bounds[acked+1]
		high := len(recs)
		if out.crashedStep >= 0 && out.crashedStep < len(steps) {
			high = bounds[out.crashedStep+1]
		}
		var cands []int
		if keepPct == 0 {
			for _, b := range bounds {
				if b >= low && b <= high {
					cands = append(cands, b)
				}
			}
		} else {
			for p := low; p <= high; p++ {
				cands = append(cands, p)
			}
		}
		ok := false
		for _, p := range cands {
			ost, oents, omatch := oracleReplay(recs[:p], snap)
			if omatch && ost == st && entsEqual(oents, ents) {
				ok = true
				break
			}
		}
		if !ok {
			for _, p := range cands {
				ost, oents, omatch := oracleReplay(recs[:p], snap)
				t.Logf("candidate p=%d: match=%v st=%+v ents=%d", p, omatch, ost, len(oents))
				for i := range max(len(oents), len(ents)) {
					if i >= len(oents) || i >= len(ents) || !entsEqual(oents[i:i+1], ents[i:i+1]) {
						if i < len(oents) {
							t.Logf("  oracle[%d] = %d/%d", i, oents[i].Index, oents[i].Term)
						}
						if i < len(ents) {
							t.Logf("  got[%d] = %d/%d", i, ents[i].Index, ents[i].Term)
						}
						break
					}
				}
			}
			t.Fatalf("%s: recovered state %+v with %d entries (snap %d) matches no record prefix in [%d,%d] (acked step %d, crashed step %d)",
				label, st, len(ents), snap.Index, low, high, acked, out.crashedStep)
		}

		// The recovered WAL accepts appends, and they read back.
		var maxTerm uint64 = st.Term
		for _, e := range ents {
			maxTerm = max(maxTerm, e.Term)
		}
		next := snap.Index + uint64(len(ents)) + 1
		// Small synced appends, so that one of them likely ends inside
		// whatever unsynced leftovers followed the last valid record: those
		// must have been zeroed, or the next read fails.
		arng := newRNG(seed ^ uint64(k))
		var more []raftpb.Entry
		nst := raftpb.HardState{Term: maxTerm + 1, Vote: 1, Commit: st.Commit}
		for i := 0; i < 3; i++ {
			e := makeEnts(arng, next+uint64(i), maxTerm+1, 1, 20+arng.IntN(700))
			if err := w2.Save(nst, e); err != nil {
				t.Fatalf("%s: Save after recovery: %v", label, err)
			}
			more = append(more, e...)
		}
		if err := w2.Close(); err != nil {
			t.Fatalf("%s: Close after recovery: %v", label, err)
		}
		w3, err := Open(img, "wal", snap, opts)
		if err != nil {
			t.Fatalf("%s: reopen: %v", label, err)
		}
		_, st3, ents3, err := w3.ReadAll()
		w3.Close()
		if err != nil || st3 != nst || !entsEqual(ents3, append(ents, more...)) {
			t.Fatalf("%s: after append and reopen: st %+v, %d entries, err %v", label, st3, len(ents3), err)
		}
		return repairs
	}

	// In the kept-unsynced mode, crash again at every step of a recovery
	// that has to repair or zero something (and at every tenth point
	// anyway): a second crash must not make things worse.
	if nested && keepPct > 0 {
		trial := clone.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: newRNG(1)})
		if needsRepair(t, trial, opts) || k%10 == 0 {
			for k2 := 0; ; k2++ {
				base := clone.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: newRNG(1)})
				rfs2 := waltest.Wrap(base)
				var c2 *vfs.MemFS
				rfs2.SetBefore(countOp, func(op waltest.Op, n int) error {
					if n == k2 {
						c2 = base.CrashClone(vfs.CrashCloneCfg{})
						rfs2.Crash()
						return waltest.ErrCrashed
					}
					return nil
				})
				recoverOnly(t, rfs2, opts, fmt.Sprintf("k=%d/k2=%d", k, k2))
				if c2 == nil {
					break
				}
				out.nested++
				verify(c2, fmt.Sprintf("k=%d/k2=%d", k, k2))
			}
		}
	}
	out.repairs = verify(clone, fmt.Sprintf("k=%d", k))
	return out
}

// TestCrashAtEveryWrite crashes the WAL at every mutating filesystem
// operation in turn, k = 0, 1, 2, ... until a run completes without
// reaching k, and checks recovery each time: with unsynced data dropped,
// and with a seeded share of unsynced blocks kept.
func TestCrashAtEveryWrite(t *testing.T) {
	seed := testSeed(t)
	nsteps := 120
	if testing.Short() {
		nsteps = 40
	}
	steps := genWorkload(newRNG(seed), nsteps)
	// With unsynced blocks (4 KiB) kept at random, segments must span
	// several blocks for a lost block to sit before a kept one; both modes
	// still cut segments.
	for _, mode := range []struct {
		name    string
		pct     int
		segSize int64
	}{{"unsynced=dropped", 0, 1024}, {"unsynced=kept-50pct", 50, 8192}} {
		opts := Options{SegmentSize: mode.segSize, MaxSegments: 3}
		t.Run(mode.name, func(t *testing.T) {
			points, repairs, nested := 0, 0, 0
			var cutOps, cuts int
			for k := 0; ; k++ {
				out := runCrashPoint(t, steps, opts, k, mode.pct, seed, true)
				if !out.fired {
					cutOps, cuts = out.ops, out.cuts
					break
				}
				points++
				repairs += out.repairs
				nested += out.nested
			}
			if points == 0 || points != cutOps {
				t.Fatalf("tried %d crash points for %d counted operations", points, cutOps)
			}
			if cuts == 0 && mode.pct == 0 {
				// 1 KiB segments: any workload cuts; if not, the test is
				// not testing what it claims.
				t.Fatalf("the workload never cut a segment (seed %d): crash points miss the cut", seed)
			}
			t.Logf("crash points tried: %d (%d workload steps, %d segment cuts, %d torn tails repaired, %d second crashes during recovery, seed %d)", points, len(steps), cuts, repairs, nested, seed)
		})
	}
}

// TestCrashWorkloadCuts makes sure the crash workload really crosses
// segment boundaries, purges and overwrites, so the crash test covers them.
func TestCrashWorkloadCuts(t *testing.T) {
	seed := testSeed(t)
	steps := genWorkload(newRNG(seed), 40)
	var cuts, purges int
	opts := Options{SegmentSize: 1024, MaxSegments: 3, OnEvent: func(e Event) {
		switch e.Kind {
		case EventCut:
			cuts++
		case EventPurge:
			purges++
		}
	}}
	w, err := Create(vfs.NewMem(), "wal", nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	overwrites, snaps := 0, 0
	var last uint64
	for _, s := range steps {
		if s.snapshot {
			snaps++
			if err := w.SaveSnapshot(s.snap); err != nil {
				t.Fatal(err)
			}
			if err := w.ReleaseLockTo(s.snap.Index); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if len(s.ents) > 0 {
			if s.ents[0].Index <= last {
				overwrites++
			}
			last = s.ents[len(s.ents)-1].Index
		}
		if err := w.Save(s.st, s.ents); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	t.Logf("cuts=%d purges=%d overwrites=%d snapshots=%d", cuts, purges, overwrites, snaps)
	if cuts < 3 || snaps == 0 {
		t.Fatalf("workload too tame: %d cuts, %d snapshots", cuts, snaps)
	}
}

// isPipelineFile reports whether a base name is one of the pipeline's
// "N.tmp" files.
func isPipelineFile(name string) bool {
	num, ok := strings.CutSuffix(name, ".tmp")
	if !ok || num == "" {
		return false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// needsRepair reports whether recovering img repairs a torn tail.
func needsRepair(t *testing.T, img *vfs.MemFS, opts Options) bool {
	if !Exist(img, "wal") {
		return false
	}
	snaps, err := ValidSnapshotEntries(img, "wal")
	if err != nil || len(snaps) == 0 {
		return false // verify reports it
	}
	repaired := false
	opts.OnEvent = func(e Event) { repaired = repaired || e.Kind == EventRepair }
	w, err := Open(img, "wal", snaps[len(snaps)-1], opts)
	if err != nil {
		return false
	}
	w.ReadAll()
	w.Close()
	return repaired
}

// recoverOnly runs the read side of recovery (which may repair and zero)
// on a filesystem that crashes part way; only the crash may fail it.
func recoverOnly(t *testing.T, fs vfs.FS, opts Options, label string) {
	t.Helper()
	ok := func(err error, what string) bool {
		if err != nil && !errors.Is(err, waltest.ErrCrashed) {
			t.Fatalf("%s: %s: %v", label, what, err)
		}
		return err == nil
	}
	if !Exist(fs, "wal") {
		return
	}
	snaps, err := ValidSnapshotEntries(fs, "wal")
	if !ok(err, "ValidSnapshotEntries") || len(snaps) == 0 {
		return
	}
	w, err := Open(fs, "wal", snaps[len(snaps)-1], opts)
	if !ok(err, "Open") {
		return
	}
	_, _, _, err = w.ReadAll()
	ok(err, "ReadAll")
	w.Close()
}
