package metrics

import (
	"regexp"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"etcdlab/engines/engine"
)

// nativeMetric maps one of an engine's native figures (engine.Stats.Native,
// by its flat name) to a Prometheus metric under etcdlab_engine_*.
type nativeMetric struct {
	name    string
	help    string
	counter bool
	// scale multiplies the native value (ns to seconds).
	scale float64
}

// nativeMetrics names the engine figures an operator watches: pebble's LSM
// shape, compaction debt, flushes, compactions, write stalls and block cache;
// bbolt's free pages, freelist and transaction counters. Every other native
// figure is exported as etcdlab_engine_native{engine,name}, so none is lost.
var nativeMetrics = map[string]nativeMetric{
	"pebble.l0.sublevels":            {"etcdlab_engine_pebble_l0_sublevels", "Sublevels in pebble's L0 (its read amplification within L0).", false, 1},
	"pebble.compaction_debt_bytes":   {"etcdlab_engine_pebble_compaction_debt_bytes", "Pebble's estimate of the bytes compactions must still rewrite to settle the LSM.", false, 1},
	"pebble.compactions":             {"etcdlab_engine_pebble_compactions_total", "Compactions pebble completed.", true, 1},
	"pebble.compactions.in_progress": {"etcdlab_engine_pebble_compactions_in_progress", "Compactions pebble is running now.", false, 1},
	"pebble.flushes":                 {"etcdlab_engine_pebble_flushes_total", "Memtable flushes pebble completed.", true, 1},
	"pebble.write_stalls":            {"etcdlab_engine_pebble_write_stalls_total", "Write stalls pebble began (writes held until flushes or compactions catch up).", true, 1},
	"pebble.block_cache.hits":        {"etcdlab_engine_pebble_block_cache_hits_total", "Block cache hits.", true, 1},
	"pebble.block_cache.misses":      {"etcdlab_engine_pebble_block_cache_misses_total", "Block cache misses.", true, 1},
	"pebble.block_cache.size":        {"etcdlab_engine_pebble_block_cache_size_bytes", "Bytes in the block cache.", false, 1},
	"pebble.memtable.size":           {"etcdlab_engine_pebble_memtable_size_bytes", "Bytes allocated by memtables.", false, 1},
	"pebble.memtable.count":          {"etcdlab_engine_pebble_memtables", "Memtables, the mutable one and those waiting to flush.", false, 1},
	"pebble.read_amp":                {"etcdlab_engine_pebble_read_amplification", "Pebble's read amplification: L0 sublevels plus non-empty levels below.", false, 1},
	"pebble.w_amp":                   {"etcdlab_engine_pebble_write_amplification", "Pebble's write amplification since open: bytes written to sstables per byte flushed.", false, 1},
	"pebble.wal.size":                {"etcdlab_engine_pebble_wal_size_bytes", "Live bytes in pebble's own WAL.", false, 1},
	"pebble.tombstones":              {"etcdlab_engine_pebble_tombstones", "Tombstones pebble holds (estimate).", false, 1},
	"pebble.disk_space_usage":        {"etcdlab_engine_pebble_disk_space_usage_bytes", "Pebble's DiskSpaceUsage: sstables (live, obsolete, zombie), WAL, MANIFEST and OPTIONS.", false, 1},
	"bbolt.free_pages":               {"etcdlab_engine_bbolt_free_pages", "Free pages on bbolt's freelist.", false, 1},
	"bbolt.pending_pages":            {"etcdlab_engine_bbolt_pending_pages", "Pages freed by writes but held for open read transactions.", false, 1},
	"bbolt.free_alloc_bytes":         {"etcdlab_engine_bbolt_free_alloc_bytes", "Bytes allocated in free pages.", false, 1},
	"bbolt.freelist_inuse_bytes":     {"etcdlab_engine_bbolt_freelist_inuse_bytes", "Bytes the freelist itself takes.", false, 1},
	"bbolt.open_read_tx":             {"etcdlab_engine_bbolt_open_read_transactions", "Open bbolt read transactions.", false, 1},
	"bbolt.hwm_bytes":                {"etcdlab_engine_bbolt_high_water_mark_bytes", "bbolt's high-water mark (page count times page size): etcd's db size.", false, 1},
	"bbolt.file_size":                {"etcdlab_engine_bbolt_file_size_bytes", "Size of the bbolt file, preallocated growth included.", false, 1},
	"bbolt.page_size":                {"etcdlab_engine_bbolt_page_size_bytes", "bbolt's page size.", false, 1},
	"bbolt.tx.page_count":            {"etcdlab_engine_bbolt_tx_pages_allocated_total", "Pages write transactions allocated.", true, 1},
	"bbolt.tx.page_alloc_bytes":      {"etcdlab_engine_bbolt_tx_page_alloc_bytes_total", "Bytes write transactions allocated in pages.", true, 1},
	"bbolt.tx.write":                 {"etcdlab_engine_bbolt_tx_writes_total", "Page writes by committing transactions.", true, 1},
	"bbolt.tx.write_ns":              {"etcdlab_engine_bbolt_tx_write_seconds_total", "Time committing transactions spent writing pages.", true, 1e-9},
	"bbolt.tx.spill":                 {"etcdlab_engine_bbolt_tx_spills_total", "Node spills by committing transactions.", true, 1},
	"bbolt.tx.spill_ns":              {"etcdlab_engine_bbolt_tx_spill_seconds_total", "Time committing transactions spent spilling nodes.", true, 1e-9},
	"bbolt.tx.split":                 {"etcdlab_engine_bbolt_tx_splits_total", "Node splits by committing transactions.", true, 1},
	"bbolt.tx.rebalance":             {"etcdlab_engine_bbolt_tx_rebalances_total", "Node rebalances by committing transactions.", true, 1},
	"bbolt.tx.node_count":            {"etcdlab_engine_bbolt_tx_nodes_total", "Nodes write transactions allocated.", true, 1},
}

// pebbleLevel matches pebble's per-level figures: "pebble.l3.files".
var pebbleLevel = regexp.MustCompile(`^pebble\.l(\d+)\.(files|bytes|score|bytes_compacted|bytes_flushed)$`)

var levelMetrics = map[string]nativeMetric{
	"files":           {"etcdlab_engine_pebble_level_files", "Sstables in the LSM level.", false, 1},
	"bytes":           {"etcdlab_engine_pebble_level_size_bytes", "Bytes of sstables in the LSM level.", false, 1},
	"score":           {"etcdlab_engine_pebble_level_score", "Compaction score of the LSM level (above 1: a compaction is due).", false, 1},
	"bytes_compacted": {"etcdlab_engine_pebble_level_compacted_bytes_total", "Bytes compactions wrote into the level.", true, 1},
	"bytes_flushed":   {"etcdlab_engine_pebble_level_flushed_bytes_total", "Bytes flushes wrote into the level.", true, 1},
}

// Counters every engine keeps (engine.Stats), with an engine label.
var (
	descEngineCommits       = engineDesc("etcdlab_engine_commits_total", "Batches the engine committed.")
	descEngineSynced        = engineDesc("etcdlab_engine_synced_commits_total", "Batches committed with sync asked for (whether the engine's settings let them fsync or not).")
	descEngineFsyncs        = engineDesc("etcdlab_engine_fsyncs_total", "fsync and fdatasync calls the engine made.")
	descEngineBytes         = engineDesc("etcdlab_engine_bytes_written_total", "Bytes the engine wrote to its files.")
	descEngineLogical       = engineDesc("etcdlab_engine_logical_bytes_total", "Key and value bytes handed to the engine in committed batches.")
	descEngineReclaims      = engineDesc("etcdlab_engine_reclaims_total", "Completed space reclaims (bbolt defrag, pebble manual compaction).")
	descEngineFSMetadataOps = engineDesc("etcdlab_engine_fs_metadata_ops_total", "File-system metadata calls (open, create, list, stat, remove, rename) the engine made.")
	descEngineNative        = prometheus.NewDesc("etcdlab_engine_native",
		"An engine-native figure by etcdlab's flat name (engine.Stats.Native) that has no metric of its own; counters among them are cumulative since the engine opened.",
		[]string{"engine", "name"}, nil)
)

func engineDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"engine"}, nil)
}

// descCache holds the descriptors of nativeMetrics and levelMetrics, built
// once (descriptors are immutable and shared by every Metrics).
var descCache = func() map[string]*prometheus.Desc {
	c := make(map[string]*prometheus.Desc)
	for _, nm := range nativeMetrics {
		c[nm.name] = engineDesc(nm.name, nm.help)
	}
	for _, nm := range levelMetrics {
		c[nm.name] = prometheus.NewDesc(nm.name, nm.help, []string{"engine", "level"}, nil)
	}
	return c
}()

// collectEngine emits the engine's counters and native figures.
func collectEngine(st engine.Stats, ch chan<- prometheus.Metric) {
	if st.Engine == "" {
		return
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), st.Engine)
	}
	counter(descEngineCommits, st.Commits)
	counter(descEngineSynced, st.SyncedCommits)
	counter(descEngineFsyncs, st.Fsyncs)
	counter(descEngineBytes, st.BytesWritten)
	counter(descEngineLogical, st.LogicalBytes)
	counter(descEngineReclaims, st.Reclaims)
	counter(descEngineFSMetadataOps, st.FSMetadataOps)
	names := make([]string, 0, len(st.Native))
	for k := range st.Native {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := st.Native[k]
		nm, ok := nativeMetrics[k]
		labels := []string{st.Engine}
		if !ok {
			if sm := pebbleLevel.FindStringSubmatch(k); sm != nil {
				nm, ok = levelMetrics[sm[2]], true
				labels = append(labels, sm[1])
			}
		}
		if !ok {
			ch <- prometheus.MustNewConstMetric(descEngineNative, prometheus.GaugeValue, v, st.Engine, k)
			continue
		}
		vt := prometheus.GaugeValue
		if nm.counter {
			vt = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(descCache[nm.name], vt, v*nm.scale, labels...)
	}
}
