package cluster

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestRegisterFlagsDeprecatedNames: each old run name sets the same field
// as etcd's name and prints one line naming the new flag.
func TestRegisterFlagsDeprecatedNames(t *testing.T) {
	tests := []struct {
		args  []string
		check func(NodeOptions) bool
	}{
		{[]string{"--quota-bytes", "5"}, func(o NodeOptions) bool { return o.QuotaBytes == 5 }},
		{[]string{"--batch-interval", "3ms"}, func(o NodeOptions) bool { return o.Backend.BatchInterval == 3*time.Millisecond }},
		{[]string{"--batch-limit", "9"}, func(o NodeOptions) bool { return o.Backend.BatchLimit == 9 }},
		{[]string{"--snapshot-catchup-entries", "7"}, func(o NodeOptions) bool { return o.SnapshotCatchUpEntries == 7 }},
	}
	for _, tc := range tests {
		t.Run(tc.args[0], func(t *testing.T) {
			var o NodeOptions
			var out bytes.Buffer
			fl := pflag.NewFlagSet("t", pflag.ContinueOnError)
			fl.SetOutput(&out)
			o.RegisterFlags(fl)
			if err := fl.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if !tc.check(o) {
				t.Errorf("%v: options %s", tc.args, o)
			}
			old := strings.TrimPrefix(tc.args[0], "--")
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "--"+DeprecatedFlags()[old]) {
				t.Errorf("%v printed %q, want one line naming --%s", tc.args, out.String(), DeprecatedFlags()[old])
			}
		})
	}
}

// TestRegisterFlagsDefaults: the flags' defaults are EnsureDefaults' (each
// written once), and CheckFlags accepts them.
func TestRegisterFlagsDefaults(t *testing.T) {
	var o NodeOptions
	o.RegisterFlags(pflag.NewFlagSet("t", pflag.ContinueOnError))
	if err := o.CheckFlags(); err != nil {
		t.Fatal(err)
	}
	var d NodeOptions
	d.EnsureDefaults()
	if o.SnapshotCount != d.SnapshotCount || o.SnapshotCatchUpEntries != d.SnapshotCatchUpEntries || o.QuotaBytes != d.QuotaBytes ||
		o.RaftLogCompaction != d.RaftLogCompaction || o.Backend.BatchInterval != d.Backend.BatchInterval || o.Backend.BatchLimit != d.Backend.BatchLimit {
		t.Errorf("flag defaults %s, EnsureDefaults %s", o, d)
	}
	o.SnapshotCount, o.Backend.BatchLimit = 0, 0
	err := o.CheckFlags()
	for _, want := range []string{"--snapshot-count", "--backend-batch-limit"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckFlags: %v, want %s named", err, want)
		}
	}
}
