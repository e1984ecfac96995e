package sweep

import (
	"fmt"
	"sort"
	"strings"

	"etcdlab/bench"
	"etcdlab/bench/runflags"
	"etcdlab/engines"
)

// ErrUnknownExperiment marks an experiment name that is not a preset.
var ErrUnknownExperiment = fmt.Errorf("sweep: unknown experiment")

func fixed(kv ...string) []runflags.Setting {
	out := make([]runflags.Setting, 0, len(kv))
	for _, s := range kv {
		st, err := ParseSetting(s)
		if err != nil {
			panic(err) // the presets below are constants; a test builds every one
		}
		out = append(out, st)
	}
	return out
}

// clusterSmall are the settings every cluster experiment starts from: a
// 3-node in-process cluster, a key space small enough that the preload
// through raft takes seconds on a 2-core machine.
var clusterSmall = []string{"layer=cluster", "nodes=3", "keys=5000", "clients=16", "warmup=2s", "fsync-probe=100"}

func exp(name, desc string, repeat int, engines []string, params []Param, fx []string, notes ...string) Spec {
	var fs []runflags.Setting
	for _, f := range fixed(fx...) {
		fs = append(dropSetting(fs, f.Name), f) // a later setting overrides a shared default
	}
	for _, p := range params {
		fs = dropSetting(fs, p.Name) // the swept values win over the shared defaults
	}
	return Spec{Name: name, Description: desc, Repeat: repeat, Seed: 1, Engines: engines, Params: params,
		Fixed: fs, Notes: notes}
}

// experiments are the presets. Sizes fit a shared 2-core machine; a user
// raises them with flags (duration, keys, repeat, params). They compare the
// registry's on-disk engines (engines.OnDisk: bbolt and pebble today; an
// engine added to the registry joins them); only the engines experiment,
// whose points are per-engine configurations, names engines itself.
func experiments() map[string]Spec {
	bothEngines := engines.OnDisk()
	cs := func(more ...string) []string { return append(append([]string(nil), clusterSmall...), more...) }
	return map[string]Spec{
		"demo": exp("demo",
			"bbolt vs pebble on a 3-node in-process cluster, mixed workload (YCSB A shape: 50% reads, 50% updates, zipfian), serializable vs linearizable reads.",
			1, bothEngines, []Param{{Name: "consistency", Values: []string{"serializable", "linearizable"}}},
			cs("workload=ycsb-a", "duration=12s", "keys=2000", "warmup=1s")),
		"read-write-ratio": exp("read-write-ratio",
			"How does the read share move throughput and latency on each engine?",
			3, bothEngines, []Param{{Name: "read-ratio", Values: []string{"0.5", "0.8", "0.9", "0.95", "0.99"}}},
			cs("workload=ycsb-a", "duration=10s")),
		"read-consistency": exp("read-consistency",
			"What does a linearizable read (ReadIndex round trip) cost over a serializable one, by cluster size and link delay?",
			3, nil, []Param{
				{Name: "consistency", Values: []string{"serializable", "linearizable"}},
				{Name: "nodes", Values: []string{"1", "3", "5"}},
				{Name: "link-delay", Values: []string{"0s", "1ms", "10ms"}},
			},
			cs("workload=ycsb-b", "duration=8s", "engine="+bench.DefaultEngine)),
		"snapshot-count": exp("snapshot-count",
			"What does snapshot-count cost in p99, peak memory and snapshot events?",
			3, bothEngines, []Param{{Name: "snapshot-count", Values: []string{"1000", "10000", "100000"}}},
			cs("workload=etcd-put", "duration=20s", "value-size=1024", "measure-recovery=true"),
			"Recovery time: after the measured phase a follower is killed (a crash, not a clean stop) and restarted; recovery.restart_s is restart to serving a serializable read (engine open, snapshot load, WAL replay, index rebuild; recovery.restore_s is the index rebuild alone), recovery.catch_up_s until its applied index reaches the leader's commit index."),
		"quota": exp("quota",
			"Writing with a small quota: how far the db grows and when NOSPACE starts (errors, alarm events).",
			1, bothEngines, []Param{{Name: "quota-backend-bytes", Values: []string{"33554432", "134217728"}}},
			cs("workload=etcd-put", "duration=20s", "value-size=4096", "keys=100000", "warmup=0s", "quota-recovery=true"),
			"Time and bytes to the alarm come from the alarm-raised event on the timeline and the NOSPACE error counts. After the measured phase, a run that raised NOSPACE runs etcd's procedure (compact at the current revision, defrag every node, disarm): quota_recovery has each step's time, the db size before and after, whether a put succeeds afterwards, and the latency of gets sent to the node under defrag."),
		"engines": enginesExp(cs("duration=10s")),
		"batch": exp("batch",
			"The backend batch interval and limit: commit frequency against latency and fsyncs.",
			3, bothEngines, []Param{
				{Name: "backend-batch-interval", Values: []string{"10ms", "100ms", "1s"}},
				{Name: "backend-batch-limit", Values: []string{"1000", "10000"}},
			},
			cs("workload=etcd-put", "duration=10s")),
		"parity":      parity(bothEngines),
		"faults":      faultsExp(cs(), bothEngines),
		"k8s-storage": k8sStorageExp(),
	}
}

// k8sStorageExp answers etcd issue #22332 (should etcd move from bbolt to
// an LSM?) with its own columns: bbolt, pebble and pebble with
// wal=disabled (the raft WAL the only log) under kube-apiserver's traffic
// as etcd sees it behind the watch cache (workload k8s-storage: optimistic
// updates, creates, deletes, event leases, leader election, lists, one
// watch per resource), the apiserver's compaction every 5 minutes run ten
// times faster (time-scale 10: every 30 s, so that the history between two
// compactions, ~30 s of writes, is about as large as the live data, as in
// #22332's 15 GB live + 15 GB history). Each run preloads 2 GB of logical
// data (--scale, batched txns through raft), probes the closed-loop
// capacity for 20 s and then offers 70% of it open loop for 180 s (five
// compactions, the first of which finds nothing to compact), latency from
// each op's intended start. No scheduled defrag: a bbolt defrag of a
// multi-GB file stops every write for tens of seconds (27 s at 5.9 GB in a
// pilot), after which an open loop at 70% of capacity never drains its
// backlog; add --defrag-interval to study it. One node: #22332 compares engines, and on 2 cores three in-process
// members would measure the CPU they share. The quota is raised to 16 GiB:
// at etcd's largest recommended 8 GiB, bbolt's file (2.7 GB live, two
// compaction intervals of history and the free pages it cannot return)
// reached 8.38 GB in one run and NOSPACE in the other (2026-12-05, first
// run at 38f0d64). 3 configurations × 2 repeats, alternated.
func k8sStorageExp() Spec {
	s := exp("k8s-storage",
		"etcd issue #22332's question at gigabyte scale: disk footprint, write throughput, MVCC compaction time and writes during compaction, bbolt vs pebble (and pebble with its WAL off), under Kubernetes-shaped traffic with the apiserver's periodic compaction.",
		2, []string{"bbolt", "pebble"}, []Param{
			{Name: "engine-opt", Values: []string{"no-sync=false", "wal=synced", "wal=disabled"}},
		},
		[]string{"layer=cluster", "nodes=1", "workload=k8s-storage", "scale=2GB", "quota-backend-bytes=17179869184",
			"clients=64", "rate-fraction=0.7", "capacity-probe=20s", "time-scale=10", "duration=180s", "warmup=10s",
			"fsync-probe=50"},
		"Write QPS counts updates, creates and deletes completed per second. The closed-loop capacity probe is the figure to set beside #22332's write throughput; the measured phase is open loop at 70% of it, so a drop during compaction means the engine fell behind the offered load.",
		"MVCC compaction time is etcd's \"took\" of \"finished scheduled compaction\": the background deletion of the compacted revisions from the key bucket, in batches of 1000 keys with 10 ms pauses, as etcd 3.6 does it.",
		"Scale: #22332 measured ~14.5 GB logical (15 GB live + 15 GB history) on a large machine; this runs 2 GB on a shared 2-core machine with the data in page cache. Raise --scale (and --quota-backend-bytes) for more, --memory-limit to keep the data larger than memory.")
	s.Exclude = []string{"engine=bbolt engine-opt!=no-sync=false", "engine=pebble engine-opt=no-sync=false"}
	return s
}

// faultsExp is bbolt vs pebble under four faults, each injected 6 s into a
// 20 s measured phase of YCSB A (half linearizable gets, half updates) on
// the 3-node in-process cluster: the leader killed and restarted after 4 s;
// a follower killed for 6 s, long enough that the leader's raft log no
// longer holds what it missed (snapshot-catchup-entries 500; at the ~1000
// writes/s this machine sustains it misses several thousand entries) so it
// comes back through a snapshot; the leader's disk made slow (20 ms more
// per fsync) for 6 s; the leader cut off from the others for 4 s. Every
// run also checks a 5% key sample with porcupine. 8 points × 3 repeats =
// 24 runs of about 30 s (preload, warm-up, 20 s, checks, teardown): about
// 12 minutes on 2 cores.
func faultsExp(fixed, bothEngines []string) Spec {
	return exp("faults",
		"What does each fault cost the clients, on bbolt and on pebble? Unavailability, time to the first successful write, time back to 90% throughput, p99 while the fault is in force, errors by kind, and for restarts the catch-up time and snapshot bytes: leader kill, follower restart through a snapshot, slow leader disk, leader partition.",
		3, bothEngines, []Param{{Name: "faults", Values: []string{
			"kill-leader@6s+4s",
			"kill-follower@6s+6s",
			"slow-disk:leader=20ms@6s+6s",
			"partition-leader@6s+4s",
		}}},
		append(fixed, "workload=ycsb-a", "duration=20s", "snapshot-catchup-entries=500"),
		"Faults are injected into the in-process cluster: a kill is a crash (unsynced engine writes lost, the WAL replayed on restart); a partition isolates the node on the in-process network while clients keep calling it directly (as a client on its side of the partition would); the slow disk adds 20 ms to every fsync of the leader's WAL and to its engine's synced commits (through the engines.Engine interface, the same code for both engines).",
		"snapshot-catchup-entries is 500 (etcd: 5000) so that a follower down for 6 s at this machine's throughput comes back through a snapshot; the other faults are barely touched by it.",
		"The fault figures are in the Faults section and, averaged over the repeats, in the tables (faults.<kind>.*). Figures of -1 (never) are left out of the means.")
}

// enginesExp is YCSB A–F on three systems: bbolt, pebble with its own WAL
// (wal=synced, the default) and pebble with wal=disabled, the configuration
// etcd-on-LSM designs propose (the raft WAL the only log; pebble durable
// through flushes, and flushed before every disk snapshot releases raft WAL
// segments). engine-opt is swept with one value per engine, bbolt's being its
// default (no-sync=false, etcd's), so each engine keeps its label. Its
// points are configurations of these two engines by their knobs, so it names
// them itself rather than taking engines.OnDisk (TestExperimentsValidate
// builds every point, so a name the registry does not know fails it).
func enginesExp(fixed []string) Spec {
	s := exp("engines",
		"YCSB A–F on bbolt, pebble (its WAL synced) and pebble with wal=disabled (the raft WAL the only log), with disk footprint and write amplification.",
		3, []string{"bbolt", "pebble"}, []Param{
			{Name: "engine-opt", Values: []string{"no-sync=false", "wal=synced", "wal=disabled"}},
			{Name: "workload", Values: []string{"ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f"}},
		},
		fixed,
		"pebble wal=disabled: commits reach a memtable only and become durable at a flush (a full memtable, or the flush the node takes before each disk snapshot); after a crash the node replays the raft WAL from the backend's consistent index.")
	s.Exclude = []string{"engine=bbolt engine-opt!=no-sync=false", "engine=pebble engine-opt=no-sync=false"}
	return s
}

// parity is the engine-parity experiment: puts and linearizable gets on
// the mvcc layer and on 1- and 3-node clusters, for each engine. The
// report's Parity section (results/report.ComputeParity) subtracts each
// engine's mvcc cost from its cluster cost and checks that what the
// cluster adds — raft, WAL, client, apply loop, quota check: the same code
// for every engine — costs the same within 10%. Cost is process CPU time
// per op: on a shared 2-core machine it measures work where latency
// measures waiting. The quota stays at its default (on): its check runs on
// every write in etcd and is one of the paths this guards. Puts run 16
// clients; gets run one, so that every read has a ReadIndex round of its
// own on every engine: with 16, reads queue for a round while the engine
// serves the last round's, and the faster engine puts more reads in each
// round, which splits the same round code over more reads (see the
// caveat). Sizes: 1000 keys, 2 s measured after 1 s of warm-up.
func parity(bothEngines []string) Spec {
	s := exp("parity",
		"Is the cost outside the engine (raft, WAL, client, apply loop, quota check) the same for every engine? Puts and linearizable gets on the mvcc layer and on 1- and 3-node in-process clusters; per engine, the cluster's CPU time per op minus the mvcc layer's (times the nodes that apply the op) must agree across engines within 10%.",
		4, bothEngines, []Param{
			{Name: "layer", Values: []string{"mvcc", "cluster"}},
			{Name: "nodes", Values: []string{"1", "3"}},
			{Name: "workload", Values: []string{"etcd-put", "etcd-range"}},
			{Name: "clients", Values: []string{"16", "1"}},
		},
		[]string{"keys=1000", "duration=2s", "warmup=1s", "fsync-probe=50", "attribute-cpu=true"},
		"The quota check is on (the default --quota-backend-bytes), as etcd runs it on every write: it is one of the per-request paths whose cost must not depend on the engine.",
		"The mvcc layer runs many times faster than the cluster, so its backend commits carry more ops each and its db grows further in the same time; engine costs that depend on batch or db size show up as a (small) difference in overhead.",
		"Both layers give the engine the same kind of writes: the mvcc layer stages a consistent index with every write, as the cluster's apply loop does, so the store writes the meta bucket's consistent index and term with every backend commit in both. Until 2026-12-04 it did not, and pebble's memtable flushes under the mvcc layer held only new revision keys, which compactions move down a level without rewriting; with the meta keys in every flush they overlap and are rewritten. That engine work was counted as cluster overhead: staging the index raised pebble's mvcc-layer CPU per put from 3.56 to 5.46 µs and its write amplification from 2.29 to 4.09, while bbolt's CPU per put went 3.72 to 3.60, within the noise (means of 3 alternating 2-s runs each, 1000 keys, 16 clients, no warm-up).",
		"CPU per op counts the engine's background work the run caused: the engines are settled (pebble's flushes and compactions done) after the preload and after the run, so a saturated mvcc layer cannot leave its compactions unpaid. The raft WAL's fdatasync CPU (measured on the syncing thread by its CPU clock) is shown in its own column and is part of the overhead.",
		"Every run profiles its CPU (--attribute-cpu), and the check judges the CPU outside the engine's code. Gets run at 1 client, puts at 16. Same code is not the same cost per op when the engine's speed changes how work is shared: with 16 clients, linearizable reads queue for a ReadIndex round while the engine serves the last one's, and the faster engine puts more reads in each round, so the slower engine pays more of the same round code per read. In the parity findings of 2026-12-05 (16 clients, 8 repeats) bbolt's gets shared a round 1.45 at a time against pebble's 1.11 at 1 node (2.20 vs 1.72 at 3), and their overheads outside the engine were 5.22 vs 6.22 µs/op (7.37 vs 8.66); at 1 client both engines' reads had a round each (1.00) and the overheads were 4.46 vs 4.83 µs/op at 1 node and 10.9 vs 10.9 at 3 (3 repeats, 2026-12-05). The report calls a check of reads whose engines' reads per round differ by more than 10% not comparable; the reads-per-round column shows it.")
	// nodes is a cluster-layer setting; puts compare at 16 clients, gets at
	// one (above).
	s.Exclude = []string{"layer=mvcc nodes!=1", "workload=etcd-put clients=1", "workload=etcd-range clients=16"}
	return s
}

// Experiments returns the preset names, sorted.
func Experiments() []string {
	var names []string
	for n := range experiments() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Experiment returns the named preset. Callers override it with Override.
func Experiment(name string) (Spec, error) {
	s, ok := experiments()[name]
	if !ok {
		return Spec{}, fmt.Errorf("%w: %q (accepted: %s)", ErrUnknownExperiment, name, strings.Join(Experiments(), ", "))
	}
	return s, nil
}

// Override replaces the spec's values of the given parameters (adding those
// it does not sweep, and dropping them from the fixed settings), sets fixed
// settings (dropping a swept parameter of the same name), and engines when
// given.
func (s *Spec) Override(params []Param, set []runflags.Setting, engines []string) {
	for _, p := range params {
		if p.Name == "engine" {
			s.Engines = p.Values
			continue
		}
		s.Fixed = dropSetting(s.Fixed, p.Name)
		replaced := false
		for i := range s.Params {
			if s.Params[i].Name == p.Name {
				s.Params[i].Values, replaced = p.Values, true
			}
		}
		if !replaced {
			s.Params = append(s.Params, p)
		}
	}
	for _, st := range set {
		if st.Name == "engine" {
			s.Engines = nil
		}
		var keep []Param
		for _, p := range s.Params {
			if p.Name != st.Name {
				keep = append(keep, p)
			}
		}
		s.Params = keep
		s.Fixed = append(dropSetting(s.Fixed, st.Name), st)
	}
	if len(engines) > 0 {
		s.Engines = engines
		s.Fixed = dropSetting(s.Fixed, "engine")
	}
}

func dropSetting(ss []runflags.Setting, name string) []runflags.Setting {
	var out []runflags.Setting
	for _, s := range ss {
		if s.Name != name {
			out = append(out, s)
		}
	}
	return out
}
