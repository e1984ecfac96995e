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

// stop ends the profile and returns the engine's share of its CPU time
// (0..1) and the number of samples it rests on.
func (a *cpuAttribution) stop() (share float64, samples int64, err error) {
	pprof.StopCPUProfile()
	p, err := profile.Parse(&a.buf)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: reading the profile back: %v", ErrProfiling, err)
	}
	return engineShare(p, a.prefixes)
}

// engineShare sums the profile's CPU time over the samples that are the
// engine's work. prefixes are the engine's packages (engines.CodePackages):
// those under etcdlab/ are its adapter, the others its library. The
// innermost etcdlab frame of a stack (etcdlab/internal helpers skipped) decides: the sample is the engine's
// if that frame is the adapter's and not if it is any other etcdlab code,
// so that harness code calling into an engine's library (the raft WAL
// writes through pebble's vfs package on every engine) stays harness; a
// stack without etcdlab frames (a goroutine the engine started: pebble's
// flushes and compactions) is the engine's if it has a library frame.
func engineShare(p *profile.Profile, prefixes []string) (share float64, samples int64, err error) {
	vi := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	if vi < 0 {
		return 0, 0, fmt.Errorf("%w: the profile has no cpu sample type", ErrProfiling)
	}
	var adapter, library []string
	for _, pre := range prefixes {
		if strings.HasPrefix(pre, etcdlabPrefix) {
			adapter = append(adapter, pre)
		} else {
			library = append(library, pre)
		}
	}
	var total, eng int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		samples += s.Value[0]
		if isEngineStack(s, adapter, library) {
			eng += v
		}
	}
	if total == 0 {
		return 0, samples, nil
	}
	return float64(eng) / float64(total), samples, nil
}

// etcdlabPrefix begins the name of every function of this module;
// etcdlabInternal its shared helpers, used by engines and harness alike.
const (
	etcdlabPrefix   = "etcdlab/"
	etcdlabInternal = "etcdlab/internal/"
)

// isEngineStack walks s from the leaf (Location[0]; within a location,
// Line[0] is the innermost inlined function) towards the root.
func isEngineStack(s *profile.Sample, adapter, library []string) bool {
	lib := false
	for _, loc := range s.Location {
		for _, ln := range loc.Line {
			if ln.Function == nil {
				continue
			}
			name := ln.Function.Name
			if strings.HasPrefix(name, etcdlabInternal) {
				continue // shared helpers (vfsutil, diskfault): their caller decides
			}
			if strings.HasPrefix(name, etcdlabPrefix) {
				return hasAnyPrefix(name, adapter)
			}
			lib = lib || hasAnyPrefix(name, library)
		}
	}
	return lib
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
