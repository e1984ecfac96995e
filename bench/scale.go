package bench

import (
	"fmt"
	"math"

	"etcdlab/results"
	"etcdlab/workloads"
)

// scaleWorkload sizes spec's preload to about scale logical bytes: the
// preloaded object count becomes scale / spec.MeanObjectBytes() (at least
// one), and Keys.Count is raised to it. A spec without a preload count
// preloads every key, so its Keys.Count becomes that count; one with a
// preload count gets the count as its preload. Applying it twice gives the
// same spec (the mean object size does not depend on the count).
func scaleWorkload(spec *workloads.Spec, scale int64) {
	mean := spec.MeanObjectBytes()
	if !(mean > 0) {
		return // Validate reports the spec's sizes
	}
	n := max(int64(math.Round(float64(scale)/mean)), 1)
	if spec.Preload == nil {
		spec.Keys.Count = n
		return
	}
	spec.Preload = &n
	spec.Keys.Count = max(spec.Keys.Count, n)
}

// validateScale checks Scale against the quota: a preload of more logical
// bytes than the cluster's backend quota ends in NOSPACE on bbolt (its db is
// at least the logical size), and etcd's default quota is 2 GiB, so a
// gigabyte-scale run must raise it explicitly (or switch it off), as a run
// of etcd at that size must.
func (c *Config) validateScale() []error {
	if c.Scale < 0 {
		return []error{fmt.Errorf("%w: scale %d: must be >= 0 (0: the workload's key count)", ErrBadConfig, c.Scale)}
	}
	if c.Scale > 0 && c.Layer == LayerCluster && len(c.Endpoints) == 0 && c.Node.QuotaBytes > 0 && c.Scale > c.Node.QuotaBytes {
		return []error{fmt.Errorf("%w: scale %d bytes is above the backend quota of %d bytes (etcd's default is 2 GiB): the preload would raise NOSPACE; give --quota-backend-bytes above the expected db size (e.g. twice the scale) or --no-quota",
			ErrBadConfig, c.Scale, c.Node.QuotaBytes)}
	}
	return nil
}

// timelineExtra picks out of a layer's figures (Stats.Extra) those each
// timeline interval keeps in Sample.Extra: the engine's state over time that
// the steady-state verdict (results.SteadyStateOf) and the timeline figures
// read. The rest of Extra stays out of the timeline to keep it small over
// runs of an hour. nil when the layer has none of them.
func timelineExtra(all map[string]float64) map[string]float64 {
	var out map[string]float64
	for name, v := range all {
		if !keptInTimeline(name) {
			continue
		}
		if out == nil {
			out = make(map[string]float64, maxTimelineExtra)
		}
		out[name] = v
	}
	return out
}

// maxTimelineExtra is how many names keptInTimeline accepts.
const maxTimelineExtra = 14

// keptInTimeline reports whether a layer figure goes on the timeline.
func keptInTimeline(name string) bool {
	switch name {
	case results.ExtraPebbleL0Sublevels, results.ExtraPebbleDebt,
		"pebble.l0.files", "pebble.write_stalls", "pebble.compactions.in_progress",
		"pebble.table.obsolete_bytes", "pebble.table.zombie_bytes", "pebble.table.live_bytes",
		"bbolt.free_pages", "bbolt.pending_pages", results.ExtraBBoltHWM,
		// results.Fragmentation's inputs.
		"bbolt.file_size", "bbolt.free_alloc_bytes", "pebble.disk_space_usage":
		return true
	}
	return false
}
