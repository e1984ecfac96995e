package bench

import (
	"math/bits"
	"sort"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"etcdlab/results"
	"etcdlab/workloads"
)

// Histogram bounds: 1 µs to 60 s at 3 significant digits, values in
// nanoseconds. A value above the top is recorded as the top (and counted in
// clamped), so one pathological op cannot drop out of the histogram.
const (
	histLowestNs  = int64(time.Microsecond)
	histHighestNs = int64(60 * time.Second)
	histSigFigs   = 3
	numKinds      = int(workloads.OpInsert) + 1
)

func newHist() *hdr.Histogram { return hdr.New(histLowestNs, histHighestNs, histSigFigs) }

// stallSlot is the resolution of the stall figure (Sample.StallMs): an
// interval set marks each millisecond in which an op completed.
const stallSlot = time.Millisecond

// Stalls listed per interval (Sample.Stalls): those of at least
// stallListMin slots, the stallListMax longest, so that an event shorter
// than a second can be given the stalls that overlap it.
const (
	stallListMin = 10
	stallListMax = 16
)

// intervalSet is what one client records in one interval.
type intervalSet struct {
	lat     [numKinds]*hdr.Histogram
	svc     [numKinds]*hdr.Histogram // open loop only
	errs    [numKinds]int64
	logical int64
	clamped int64
	// done has a bit per stallSlot from origin (the interval's start, an
	// offset from the measured phase's start), set when an op completed
	// successfully in it: the stall figure needs completions at a finer
	// grain than the interval, and a bit costs the record path a
	// subtraction, a compare and an OR (no shared state between clients).
	origin time.Duration
	done   []uint64
}

func newIntervalSet(kinds []workloads.OpKind, open bool) *intervalSet {
	s := &intervalSet{done: make([]uint64, 2*int(time.Second/stallSlot)/64)}
	for _, k := range kinds {
		s.lat[k] = newHist()
		if open {
			s.svc[k] = newHist()
		}
	}
	return s
}

func (s *intervalSet) reset() {
	for k := range s.lat {
		if s.lat[k] != nil {
			s.lat[k].Reset()
		}
		if s.svc[k] != nil {
			s.svc[k].Reset()
		}
		s.errs[k] = 0
	}
	s.logical, s.clamped = 0, 0
	clear(s.done)
}

// mark records a completion at end (an offset from the measured phase's
// start). One just before origin (it ended before the interval was
// swapped in, but was recorded after) goes to the first slot.
func (s *intervalSet) mark(end time.Duration) {
	i := max(int((end-s.origin)/stallSlot), 0)
	w := i >> 6
	if w >= len(s.done) {
		// A late tick: grow (rare, and only this client's set).
		s.done = append(s.done, make([]uint64, w+1-len(s.done))...)
	}
	s.done[w] |= 1 << (i & 63)
}

// clientRec is one client's recorder. The client records into cur under mu;
// the interval ticker swaps cur and spare under mu once a second and merges
// spare outside it, so a record is an uncontended lock, one or two
// histogram increments and an unlock: no lock is shared between clients.
type clientRec struct {
	mu         sync.Mutex
	cur, spare *intervalSet
	open       bool
	_          [64]byte // keep neighbouring clients' locks off one cache line
}

func newClientRec(kinds []workloads.OpKind, open bool) *clientRec {
	return &clientRec{cur: newIntervalSet(kinds, open), spare: newIntervalSet(kinds, open), open: open}
}

// record records one finished op: lat is its latency (from the intended
// start in open loop), svc its service time (open loop only), end when it
// completed (an offset from the measured phase's start).
func (c *clientRec) record(kind workloads.OpKind, lat, svc, end time.Duration, failed bool, logical int) {
	c.mu.Lock()
	s := c.cur
	if failed {
		s.errs[kind]++
		c.mu.Unlock()
		return
	}
	h := s.lat[kind]
	if h == nil { // a kind the mix did not announce: allocate once
		h = newHist()
		s.lat[kind] = h
	}
	if h.RecordValue(int64(lat)) != nil {
		s.clamped++
		_ = h.RecordValue(clampNs(int64(lat)))
	}
	if c.open {
		hs := s.svc[kind]
		if hs == nil {
			hs = newHist()
			s.svc[kind] = hs
		}
		if hs.RecordValue(int64(svc)) != nil {
			_ = hs.RecordValue(clampNs(int64(svc)))
		}
	}
	s.logical += int64(logical)
	s.mark(end)
	c.mu.Unlock()
}

func clampNs(v int64) int64 {
	if v < 0 {
		return 0
	}
	if v > histHighestNs {
		return histHighestNs
	}
	return v
}

// swap takes the client's current interval out, leaving an empty one that
// starts at at.
func (c *clientRec) swap(at time.Duration) *intervalSet {
	c.mu.Lock()
	c.spare.origin = at
	c.cur, c.spare = c.spare, c.cur
	out := c.spare
	c.mu.Unlock()
	return out
}

// recorder aggregates every client's intervals: per-second histograms for
// the logs and the timeline, and the whole run's totals. Only the interval
// goroutine (and the runner once the clients have stopped) touch it.
type recorder struct {
	clients []*clientRec
	open    bool

	agg     *intervalSet // one interval, all clients
	total   *intervalSet // the measured phase
	all     *hdr.Histogram
	allSvc  *hdr.Histogram
	ivAll   *hdr.Histogram
	latLog  []results.LogInterval
	svcLog  []results.LogInterval
	lastEnd time.Duration
	// done merges the clients' completion bits of one interval; lastDone
	// is the last slot (from the measured phase's start) with a
	// completion, -1 before the first.
	done     []uint64
	lastDone int
}

func newRecorder(clients int, kinds []workloads.OpKind, open bool) *recorder {
	r := &recorder{
		open:     open,
		agg:      newIntervalSet(kinds, open),
		total:    newIntervalSet(kinds, open),
		all:      newHist(),
		ivAll:    newHist(),
		lastDone: -1,
	}
	if open {
		r.allSvc = newHist()
	}
	for range clients {
		r.clients = append(r.clients, newClientRec(kinds, open))
	}
	return r
}

func mergeInto(dst **hdr.Histogram, src *hdr.Histogram) {
	if src == nil || src.TotalCount() == 0 {
		return
	}
	if *dst == nil {
		*dst = newHist()
	}
	(*dst).Merge(src)
}

// rotate closes the interval [start, end) (offsets from the measured
// phase's start): it collects every client's interval, logs it and adds it
// to the totals. It returns the interval's timeline sample.
func (r *recorder) rotate(start, end time.Duration) results.Sample {
	r.agg.reset()
	r.ivAll.Reset()
	clear(r.done)
	for _, c := range r.clients {
		s := c.swap(end)
		if len(s.done) > len(r.done) {
			r.done = append(r.done, make([]uint64, len(s.done)-len(r.done))...)
		}
		for i, w := range s.done {
			r.done[i] |= w
		}
		for k := range numKinds {
			mergeInto(&r.agg.lat[k], s.lat[k])
			mergeInto(&r.agg.svc[k], s.svc[k])
			r.agg.errs[k] += s.errs[k]
		}
		r.agg.logical += s.logical
		r.agg.clamped += s.clamped
		s.reset()
	}
	smp := results.Sample{Type: results.SampleInterval, T: start.Seconds(), LengthS: (end - start).Seconds(), PerOp: map[string]results.IntervalOp{}}
	for k := range numKinds {
		kind := workloads.OpKind(k)
		h := r.agg.lat[k]
		errs := r.agg.errs[k]
		if (h == nil || h.TotalCount() == 0) && errs == 0 {
			continue
		}
		var io results.IntervalOp
		io.Errors = errs
		if h != nil && h.TotalCount() > 0 {
			io.Count = h.TotalCount()
			io.P50Us = us(h.ValueAtQuantile(50))
			io.P99Us = us(h.ValueAtQuantile(99))
			io.MaxUs = us(h.Max())
			r.latLog = append(r.latLog, logInterval(kind.String(), start, end, h))
			if r.open && r.agg.svc[k] != nil && r.agg.svc[k].TotalCount() > 0 {
				r.svcLog = append(r.svcLog, logInterval(kind.String(), start, end, r.agg.svc[k]))
				mergeInto(&r.total.svc[k], r.agg.svc[k])
				r.allSvc.Merge(r.agg.svc[k])
			}
			mergeInto(&r.total.lat[k], h)
			r.all.Merge(h)
			r.ivAll.Merge(h)
		}
		r.total.errs[k] += errs
		smp.Ops += io.Count
		smp.Errors += errs
		smp.PerOp[kind.String()] = io
	}
	r.total.logical += r.agg.logical
	r.total.clamped += r.agg.clamped
	if d := (end - start).Seconds(); d > 0 {
		smp.OpsS = float64(smp.Ops) / d
	}
	if r.ivAll.TotalCount() > 0 {
		smp.P50Us = us(r.ivAll.ValueAtQuantile(50))
		smp.P99Us = us(r.ivAll.ValueAtQuantile(99))
		smp.MaxUs = us(r.ivAll.Max())
	}
	gaps := r.stall(start, end)
	toStall := func(g [2]int) results.Stall {
		return results.Stall{StartS: (time.Duration(g[0]) * stallSlot).Seconds(), Ms: float64(g[1]) * float64(stallSlot) / float64(time.Millisecond)}
	}
	if len(gaps) > 0 {
		longest := gaps[0]
		for _, g := range gaps {
			if g[1] > longest[1] {
				longest = g
			}
		}
		ls := toStall(longest)
		smp.StallMs, smp.StallStartS = ls.Ms, ls.StartS
		for _, g := range gaps {
			if g[1] >= stallListMin {
				smp.Stalls = append(smp.Stalls, toStall(g))
			}
		}
	}
	r.lastEnd = end
	return smp
}

// stall returns the runs of slots without a completion that overlap
// [start, end), as (first slot, length) in time order, from the merged bits
// of the interval: a run that began before start counts from its beginning
// (lastDone), one still open at end up to end. It keeps the longest run
// and, of the others, the stallListMax longest of at least stallListMin
// slots (runs of 0 are not runs; with none, a zero run at start).
func (r *recorder) stall(start, end time.Duration) [][2]int {
	base := int(start / stallSlot)
	var gaps [][2]int
	longest := [2]int{int(start / stallSlot), 0}
	add := func(from, n int) {
		if n > longest[1] {
			longest = [2]int{from, n}
		}
		if n >= stallListMin {
			gaps = append(gaps, [2]int{from, n})
		}
	}
	for wi, w := range r.done {
		for w != 0 {
			a := base + wi*64 + bits.TrailingZeros64(w)
			w &= w - 1
			if a > r.lastDone {
				add(r.lastDone+1, a-r.lastDone-1)
				r.lastDone = a
			}
		}
	}
	add(r.lastDone+1, int(end/stallSlot)-r.lastDone-1)
	if len(gaps) > stallListMax {
		sort.Slice(gaps, func(i, j int) bool { return gaps[i][1] > gaps[j][1] })
		gaps = gaps[:stallListMax]
		sort.Slice(gaps, func(i, j int) bool { return gaps[i][0] < gaps[j][0] })
	}
	if longest[1] < stallListMin {
		gaps = append(gaps, longest) // below the list's threshold: the longest alone
	}
	return gaps
}

func logInterval(tag string, start, end time.Duration, h *hdr.Histogram) results.LogInterval {
	iv := results.LogInterval{Tag: tag, Start: start, Length: end - start, MaxNs: h.Max()}
	if b, err := h.EncodeV2(); err == nil {
		iv.Payload = string(b)
	}
	return iv
}

func us(ns int64) float64 { return float64(ns) / 1e3 }

// latency summarizes h in microseconds.
func latency(h *hdr.Histogram) results.Latency {
	if h == nil || h.TotalCount() == 0 {
		return results.Latency{}
	}
	return results.Latency{
		P50Us:  us(h.ValueAtQuantile(50)),
		P90Us:  us(h.ValueAtQuantile(90)),
		P99Us:  us(h.ValueAtQuantile(99)),
		P999Us: us(h.ValueAtQuantile(99.9)),
		MaxUs:  us(h.Max()),
		MeanUs: h.Mean() / 1e3,
	}
}
