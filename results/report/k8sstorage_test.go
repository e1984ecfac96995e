package report

import (
	"strings"
	"testing"

	"etcdlab/results"
)

// k8sRun is a k8s-storage run with the figures the section reads.
func k8sRun(engine, opt string, rep int, capW, outW, durW, took float64, alarm bool) Run {
	r := results.New()
	r.Config.Engine, r.Config.QuotaBytes = engine, 8<<30
	r.Summary.CapacityWriteOpsS, r.Summary.Ops = capW, 1000
	r.Disk.DBSizeBytes = 3e9
	r.K8s = &results.K8sResult{LiveLogicalBytes: 2e9}
	r.Maintenance = &results.Maintenance{
		Outside:    results.MaintenanceWindow{WriteOpsS: outW},
		Compaction: &results.MaintenanceKind{Count: 2, MeanWriteOpsS: durW, WriteDipPct: 100 * (1 - durW/outW), MeanTookS: took},
		Events: []results.MaintenanceEvent{
			{Kind: results.MaintenanceCompaction, TookS: took - 1, KeysDeleted: 100},
			{Kind: results.MaintenanceCompaction, TookS: took + 1, KeysDeleted: 300},
		},
		SpaceAmp: &results.SeriesStats{Last: 1.5},
	}
	if alarm {
		r.Events["alarm-raised"] = 1
		r.Summary.Errors = 900
	}
	return Run{Dir: engine, Repeat: rep, Params: []Setting{{Name: "engine-opt", Value: opt}}, Result: r}
}

// TestK8sStorageSection: rows per engine configuration in #22332's order
// (bbolt, pebble synced, pebble without its WAL), means over repeats,
// compaction time's range over every run, and a run that raised NOSPACE
// left out and named.
func TestK8sStorageSection(t *testing.T) {
	s := &Set{Runs: []Run{
		k8sRun("pebble", "wal=disabled", 0, 9000, 7000, 5600, 10, false),
		k8sRun("bbolt", "no-sync=false", 0, 14000, 11000, 8800, 17, false),
		k8sRun("pebble", "wal=synced", 0, 9400, 7000, 5500, 12, false),
		k8sRun("bbolt", "no-sync=false", 1, 15000, 11200, 8400, 18, false),
		k8sRun("bbolt", "no-sync=false", 2, 7000, 6000, 6000, 20, true),
	}}
	k := ComputeK8sStorage(s)
	if k == nil {
		t.Fatal("no section")
	}
	var names []string
	for _, r := range k.Rows {
		names = append(names, r.Engine)
	}
	if got := strings.Join(names, ", "); got != "bbolt no-sync=false, pebble wal=synced, pebble wal=disabled" {
		t.Fatalf("rows %s", got)
	}
	b := k.Rows[0]
	if b.Repeats != 2 || b.CapacityWriteQPS.Mean != 14500 || b.TookMinS != 16 || b.TookMaxS != 19 || b.KeysDeletedPerCompaction.Mean != 200 {
		t.Errorf("bbolt row %+v", b)
	}
	if b.DiskGB.Mean != 3 || b.SpaceAmp.Mean != 1.5 {
		t.Errorf("bbolt disk %v, amplification %v", b.DiskGB, b.SpaceAmp)
	}
	if len(k.Skipped) != 1 || !strings.Contains(k.Skipped[0], "bbolt no-sync=false repeat 2: the NOSPACE alarm") {
		t.Errorf("skipped %v", k.Skipped)
	}
	md := k.Markdown()
	for _, want := range []string{"| write QPS, closed-loop capacity probe | 14500", "~30,000 | ~34,000", "Left out of the table: bbolt no-sync=false repeat 2"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
