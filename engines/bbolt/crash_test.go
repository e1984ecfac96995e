package bbolt

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

const crashDirEnv = "ETCDLAB_BBOLT_CRASH_DIR"

// TestCrashChild is the process TestKillMidCommit kills; it does nothing in
// a normal run. It commits batches of 10 keys forever, alternating synced
// and unsynced commits, and prints "ack N" after commit N returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestKillMidCommit")
	}
	e, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for n := 0; ; n++ {
		b := e.NewBatch()
		for k := 0; k < 10; k++ {
			b.Put(bktA, []byte(fmt.Sprintf("%06d-%d", n, k)), []byte(strings.Repeat(strconv.Itoa(n), 50)))
		}
		if err := b.Commit(n%2 == 0); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "ack %d\n", n)
		w.Flush()
	}
}

// TestKillMidCommit kills a process that is committing (SIGKILL, so the page
// cache survives: this is a process crash, not a machine crash) and checks
// that the db opens cleanly, holds every acknowledged commit, and holds each
// commit whole or not at all, in commit order.
func TestKillMidCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	acked := -1
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			t.Fatalf("child: %s", line)
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(line, "ack ")); err == nil {
			acked = n
			if acked >= 300 {
				break
			}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if acked < 300 {
		t.Fatalf("child stopped after %d acks", acked)
	}

	e := open(t, dir)
	got := scanAll(t, e, bktA)
	counts := map[int]int{}
	for k := range got {
		n, err := strconv.Atoi(k[:6])
		if err != nil {
			t.Fatalf("odd key %q", k)
		}
		counts[n]++
	}
	last := len(counts) - 1
	for n := 0; n <= last; n++ {
		if counts[n] != 10 {
			t.Fatalf("commit %d has %d of its 10 keys (commits present: %d)", n, counts[n], len(counts))
		}
	}
	if last < acked {
		t.Fatalf("acknowledged commit %d lost: only %d commits survived", acked, last+1)
	}
	t.Logf("killed after ack %d; %d commits survived", acked, last+1)
}
