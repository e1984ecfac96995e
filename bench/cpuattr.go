package bench

import (
	"bytes"
	"errors"
	"fmt"
	"runtime/pprof"
	"strings"

	"github.com/google/pprof/profile"

	"etcdlab/engines"
)

// ErrProfiling marks a run whose CPU attribution could not profile: another
// CPU profile was running, or the profile could not be read back.
var ErrProfiling = errors.New("bench: cpu attribution")

// cpuAttribution is a CPU profile of the whole process over the measured
// phase, read back as the share of its samples that are the engine's work.
type cpuAttribution struct {
	buf      bytes.Buffer
	prefixes []string
}

func startCPUAttribution(engine string) (*cpuAttribution, error) {
	prefixes, err := engines.CodePackages(engine)
	if err != nil {
		return nil, err
	}
	a := &cpuAttribution{prefixes: prefixes}
	if err := pprof.StartCPUProfile(&a.buf); err != nil {
		return nil, fmt.Errorf("%w: %v (is another CPU profile running, such as go test -cpuprofile?)", ErrProfiling, err)
	}
	return a, nil
}

// cpuShares are the parts of a CPU profile's time (0..1): the engine's
// code, the Go runtime's GC work (its background mark workers, sweeper and
// scavenger, and the mark assists, sweeping and write-barrier flushes it
// charges to whichever goroutine allocates: work no stack can be charged
// for, since its amount follows every allocation of the process), and over
// how many samples.
type cpuShares struct {
	Engine, GC float64
	Samples    int64
}

// stop ends the profile and returns its shares.
func (a *cpuAttribution) stop() (cpuShares, error) {
	pprof.StopCPUProfile()
	p, err := profile.Parse(&a.buf)
	if err != nil {
		return cpuShares{}, fmt.Errorf("%w: reading the profile back: %v", ErrProfiling, err)
	}
	return shares(p, a.prefixes)
}

// shares sums the profile's CPU time over the samples that are the
// engine's work and over those that are GC work. prefixes are the
// engine's packages (engines.CodePackages): those under etcdlab/ are its
// adapter, the others its library. The innermost etcdlab frame of a stack
// (etcdlab/internal helpers skipped) decides: the sample is the engine's
// if that frame is the adapter's and not if it is any other etcdlab code,
// so that harness code calling into an engine's library (the raft WAL
// writes through pebble's vfs package on every engine) stays harness; a
// stack without etcdlab frames (a goroutine the engine started: pebble's
// flushes and compactions) is the engine's if it has a library frame, and
// GC if it runs one of the runtime's GC goroutines (isGCRoot). A sample
// in GC work on any goroutine's stack (isGCWork) is GC whoever allocated.
func shares(p *profile.Profile, prefixes []string) (cpuShares, error) {
	vi := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	if vi < 0 {
		return cpuShares{}, fmt.Errorf("%w: the profile has no cpu sample type", ErrProfiling)
	}
	var adapter, library []string
	for _, pre := range prefixes {
		if strings.HasPrefix(pre, etcdlabPrefix) {
			adapter = append(adapter, pre)
		} else {
			library = append(library, pre)
		}
	}
	var out cpuShares
	var total, eng, gc int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		out.Samples += s.Value[0]
		switch classify(s, adapter, library) {
		case sampleEngine:
			eng += v
		case sampleGC:
			gc += v
		}
	}
	if total > 0 {
		out.Engine, out.GC = float64(eng)/float64(total), float64(gc)/float64(total)
	}
	return out, nil
}

// etcdlabPrefix begins the name of every function of this module;
// etcdlabInternal its shared helpers, used by engines and harness alike.
const (
	etcdlabPrefix   = "etcdlab/"
	etcdlabInternal = "etcdlab/internal/"
)

// isGCWork: name is GC work the runtime does on an ordinary goroutine's
// stack: a mark assist, proportional sweeping, sweeping a span on
// allocation, a write-barrier buffer flush. How much of it an allocation
// pays follows the whole process's allocation rate and heap (every
// goroutine's garbage, the engine's included), not the code it interrupts,
// so it is GC's whoever allocated. Measured 2026-12-05 on 1-client
// linearizable gets (BenchmarkParity, -cpuprofile, one run of 400,000 and
// two of 1,000,000 per engine): 0.13–0.23 µs/op of it on non-engine stacks
// with bbolt, 0.08–0.15 with pebble.
func isGCWork(name string) bool {
	switch name {
	case "runtime.gcAssistAlloc", "runtime.gcAssistAlloc1", "runtime.deductSweepCredit",
		"runtime.(*sweepLocked).sweep", "runtime.wbBufFlush", "runtime.wbBufFlush1":
		return true
	}
	return false
}

// isGCRoot: name is the root of one of the runtime's background GC
// goroutines.
func isGCRoot(name string) bool {
	switch name {
	case "runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge":
		return true
	}
	return false
}

type sampleKind int

const (
	sampleOther sampleKind = iota
	sampleEngine
	sampleGC
)

// classify walks s from the leaf (Location[0]; within a location, Line[0]
// is the innermost inlined function) towards the root.
func classify(s *profile.Sample, adapter, library []string) sampleKind {
	lib, gc := false, false
	for _, loc := range s.Location {
		for _, ln := range loc.Line {
			if ln.Function == nil {
				continue
			}
			name := ln.Function.Name
			if isGCWork(name) {
				return sampleGC // below any caller's frame: the GC's, not the caller's
			}
			if strings.HasPrefix(name, etcdlabInternal) {
				continue // shared helpers (vfsutil, diskfault): their caller decides
			}
			if strings.HasPrefix(name, etcdlabPrefix) {
				if hasAnyPrefix(name, adapter) {
					return sampleEngine
				}
				return sampleOther
			}
			lib = lib || hasAnyPrefix(name, library)
			gc = gc || isGCRoot(name)
		}
	}
	switch {
	case lib:
		return sampleEngine
	case gc:
		return sampleGC
	}
	return sampleOther
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
