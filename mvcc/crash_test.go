package mvcc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/engines/backend"
)

// Crash tests re-run the test binary as a child that works on a store and
// exits abruptly (os.Exit, no Close, nothing flushed); the parent reopens the
// data dir and checks what survived. The memory engine keeps nothing without
// Close, so these run on the engines with files.

const (
	crashEnv    = "ETCDLAB_MVCC_CRASH_CHILD"
	crashDirEnv = "ETCDLAB_MVCC_CRASH_DIR"
	crashArgEnv = "ETCDLAB_MVCC_CRASH_ARG"
)

func crashEngines() []string { return []string{"bbolt", "pebble"} }

// runCrashChild runs the current test in a child process with mode, dir and
// arg, and expects it to exit with status 3 (its deliberate crash).
func runCrashChild(t *testing.T, mode, dir, arg string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+mode, crashDirEnv+"="+dir, crashArgEnv+"="+arg)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
}

// openStoreSynced opens a store whose backend syncs every commit, as etcd's.
func openStoreSynced(t testing.TB, name, dir string, cfg Config) *Store {
	t.Helper()
	b, err := backend.New(openEngine(t, name, dir), backend.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCrashConsistentIndex: entry i puts key i and carries consistent index
// i. After a crash at an arbitrary point, the reopened store must hold
// exactly the keys of entries 1..ConsistentIndex (etcd #13766: the index is
// committed with its entry's data, never before or after it).
func TestCrashConsistentIndex(t *testing.T) {
	if mode := os.Getenv(crashEnv); mode != "" {
		name := os.Getenv(crashArgEnv)
		s := openStoreSynced(t, name, os.Getenv(crashDirEnv), Config{})
		for i := uint64(1); ; i++ {
			s.SetApplyingIndex(i, 1)
			put(t, s, fmt.Sprintf("key%06d", i), "v")
			if i == 25000 {
				// Entries up to a batch-limit or interval commit are
				// committed, the last ones only buffered.
				os.Exit(3)
			}
		}
	}
	for _, name := range crashEngines() {
		t.Run("engine="+name, func(t *testing.T) {
			dir := t.TempDir()
			runCrashChild(t, "ci", dir, name)
			s := openStoreSynced(t, name, dir, Config{})
			defer s.Close()
			ci, term := s.ConsistentIndex()
			resp, err := s.Range(&pb.RangeRequest{Key: []byte("key"), RangeEnd: []byte("kez"), CountOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("recovered consistent index %d (term %d), %d keys, revision %d", ci, term, resp.Count, s.Rev())
			if ci == 0 || ci >= 25000 {
				t.Fatalf("consistent index %d: the child crashed before any commit or after the last put", ci)
			}
			if uint64(resp.Count) != ci || s.Rev() != int64(ci)+1 {
				t.Fatalf("consistent index %d but %d keys at revision %d: index and data were committed apart", ci, resp.Count, s.Rev())
			}
		})
	}
}

// TestCrashDuringCompaction kills the process between two compaction batches;
// the reopened store finishes the compaction, keeps its revision, and ends
// with the hash and key bucket of an uninterrupted run.
func TestCrashDuringCompaction(t *testing.T) {
	cfg := Config{CompactionBatchLimit: 10, CompactionSleepInterval: 1}
	if mode := os.Getenv(crashEnv); mode != "" {
		name := os.Getenv(crashArgEnv)
		seed, _ := strconv.ParseUint(os.Getenv("ETCDLAB_MVCC_CRASH_SEED"), 10, 64)
		s := openStoreSynced(t, name, os.Getenv(crashDirEnv), cfg)
		mid := history(t, s, seed)
		s.compactBatchHook = func(batch int) bool {
			if batch == 4 {
				os.Exit(3)
			}
			return true
		}
		if _, err := s.Compact(mid); err != nil {
			t.Fatal(err)
		}
		s.WaitCompactions()
		t.Fatal("compaction ended before the crash point")
	}
	seed := testSeed(t)
	t.Setenv("ETCDLAB_MVCC_CRASH_SEED", strconv.FormatUint(seed, 10))
	for _, name := range crashEngines() {
		t.Run("engine="+name, func(t *testing.T) {
			a := openStore(t, name, t.TempDir(), cfg)
			defer a.Close()
			mid := history(t, a, seed)
			rev := a.Rev()
			if err := a.CompactSync(mid); err != nil {
				t.Fatal(err)
			}
			want := resultOf(t, a)

			dir := t.TempDir()
			runCrashChild(t, "compact", dir, name)
			s := openStoreSynced(t, name, dir, cfg)
			defer s.Close()
			s.WaitCompactions()
			got := resultOf(t, s)
			if got.rev != rev || got.compactRev != mid || got.hash != want.hash || fmt.Sprint(got.bucket) != fmt.Sprint(want.bucket) {
				t.Fatalf("after the crash: rev %d compact %d hash %08x (%d entries); uninterrupted: rev %d compact %d hash %08x (%d entries)",
					got.rev, got.compactRev, got.hash, len(got.bucket), want.rev, want.compactRev, want.hash, len(want.bucket))
			}
		})
	}
}
