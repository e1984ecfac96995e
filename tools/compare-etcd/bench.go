package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Case is one benchmark command; Args follow the tool's global flags.
type Case struct {
	Name    string   `json:"name"`
	Clients int      `json:"clients"`
	Total   int      `json:"total"`
	Args    []string `json:"args"`
}

const (
	keySize   = 8
	valSize   = 256
	keySpace  = 100000
	rangeKey  = "foo"
	conns1000 = 100 // gRPC connections for the 1000-client cases
)

// Settings of the watch, lease and txn cases (issue #14 item 6).
const (
	// watch-latency: the tool's defaults (10 streams of 10 watchers on one
	// key, 100 puts/s of a 32-byte key and value), given explicitly.
	watchStreams, watchersPerStream, watchPutRate = 10, 10, 100
	watchKeySize, watchValSize                    = 32, 32
	// txn-mixed: 4 reads per write (Kubernetes' mix is about 80% reads),
	// each read a linearizable range over every key with a limit of 100
	// (a list page), each write one put of a 256-byte value over 10,000 keys.
	txnRWRatio, txnLimit, txnKeySpace = 4, 100, 10000
)

// defaultCases lists the cases; each runs on a fresh cluster.
func defaultCases(quick bool, scale float64) []Case {
	t1, t1000 := 10000, 100000
	r1, r1000 := 10000, 100000
	// watchPuts at watchPutRate puts/s: 10 s (quick: 3 s) of watching.
	watchPuts := 1000
	k1, k1000 := 30000, 100000
	txn := 50000
	if quick {
		t1, t1000, r1, r1000 = 2000, 20000, 2000, 20000
		watchPuts, k1, k1000, txn = 300, 5000, 20000, 10000
	}
	sc := func(n int) int {
		v := int(float64(n) * scale)
		if v < 1 {
			v = 1
		}
		return v
	}
	put := func(clients, total int) Case {
		return Case{
			Name: fmt.Sprintf("put c=%d", clients), Clients: clients, Total: total,
			Args: []string{"put", fmt.Sprintf("--key-size=%d", keySize), fmt.Sprintf("--val-size=%d", valSize),
				fmt.Sprintf("--total=%d", total), "--sequential-keys", fmt.Sprintf("--key-space-size=%d", keySpace)},
		}
	}
	rng := func(cons string, clients, total int) Case {
		name := map[string]string{"l": "range-lin", "s": "range-ser"}[cons]
		return Case{
			Name: fmt.Sprintf("%s c=%d", name, clients), Clients: clients, Total: total,
			Args: []string{"range", rangeKey, "--consistency=" + cons, fmt.Sprintf("--total=%d", total)},
		}
	}
	// watch-latency: Total is the number of puts; every watcher gets an
	// event per put, so the events summary holds Total × 100 latencies.
	watch := func(puts int) Case {
		return Case{
			Name: "watch-latency", Clients: 1, Total: puts,
			Args: []string{"watch-latency", fmt.Sprintf("--streams=%d", watchStreams),
				fmt.Sprintf("--watchers-per-stream=%d", watchersPerStream), fmt.Sprintf("--put-rate=%d", watchPutRate),
				fmt.Sprintf("--put-total=%d", puts), fmt.Sprintf("--key-size=%d", watchKeySize), fmt.Sprintf("--val-size=%d", watchValSize)},
		}
	}
	// lease-keepalive: each client grants one lease (TTL 100 s) and renews
	// it with KeepAliveOnce (a new LeaseKeepAlive stream per request).
	keepalive := func(clients, total int) Case {
		return Case{
			Name: fmt.Sprintf("lease-keepalive c=%d", clients), Clients: clients, Total: total,
			Args: []string{"lease-keepalive", fmt.Sprintf("--total=%d", total)},
		}
	}
	// txn-mixed: the tool ignores its key argument; reads range over every
	// key (prefix of the empty key).
	mixed := func(clients, total int) Case {
		return Case{
			Name: fmt.Sprintf("txn-mixed c=%d", clients), Clients: clients, Total: total,
			Args: []string{"txn-mixed", fmt.Sprintf("--rw-ratio=%d", txnRWRatio), fmt.Sprintf("--limit=%d", txnLimit),
				fmt.Sprintf("--key-space-size=%d", txnKeySpace), fmt.Sprintf("--key-size=%d", keySize),
				fmt.Sprintf("--val-size=%d", valSize), "--consistency=l", fmt.Sprintf("--total=%d", total)},
		}
	}
	return []Case{
		put(1, sc(t1)),
		put(1000, sc(t1000)),
		rng("l", 1, sc(r1)),
		rng("l", 1000, sc(r1000)),
		rng("s", 1, sc(r1)),
		rng("s", 1000, sc(r1000)),
		watch(sc(watchPuts)),
		keepalive(1, sc(k1)),
		keepalive(1000, sc(k1000)),
		mixed(1000, sc(txn)),
	}
}

// part is one of the summaries a command prints.
type part struct {
	// name is "" for a command with one summary.
	name string
	// marker is the text that opens the part in the tool's output.
	marker string
	// paced: the tool paces the requests (a rate limit), so the part's
	// requests/s is set by the case, not by the system.
	paced bool
}

// commandParts lists the summaries the tool prints for command cmd, the
// headline first: watch-latency prints the puts' and the watch events'
// (latency from a put's response to each watcher's event for it, 0 when the
// event came first); txn-mixed prints the reads' and the writes'.
func commandParts(cmd string) []part {
	switch cmd {
	case "watch-latency":
		return []part{{"events", "Watch events summary:", true}, {"put", "Put summary:", true}}
	case "txn-mixed":
		return []part{{"read", "Total Read Ops:", false}, {"write", "Total Write Ops:", false}}
	}
	return []part{{}}
}

// parseOutput reads the summaries of command cmd's output: the headline
// (the first part) and, for a command with several, every part by name.
func parseOutput(cmd, out string) (Summary, map[string]Summary, error) {
	ps := commandParts(cmd)
	if len(ps) == 1 {
		s, err := parseSummary(out)
		return s, nil, err
	}
	starts := make([]int, len(ps))
	for i, p := range ps {
		starts[i] = strings.LastIndex(out, p.marker)
	}
	parts := map[string]Summary{}
	var errs []error
	for i, p := range ps {
		if starts[i] < 0 {
			errs = append(errs, fmt.Errorf("compare-etcd: %s output has no %q block", cmd, p.marker))
			continue
		}
		end := len(out)
		for _, j := range starts {
			if j > starts[i] && j < end {
				end = j
			}
		}
		s, err := parseSummary(out[starts[i]:end])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", cmd, p.name, err))
		}
		parts[p.name] = s
	}
	return parts[ps[0].name], parts, errors.Join(errs...)
}

// Measurement is one case run once against one cluster.
type Measurement struct {
	System  string    `json:"system"`
	Nodes   int       `json:"nodes"`
	Repeat  int       `json:"repeat"`
	Case    string    `json:"case"`
	Command string    `json:"command"`
	Output  string    `json:"output_file"`
	Started time.Time `json:"started"`
	// Summary is the headline summary (for watch-latency the watch events,
	// for txn-mixed the reads); Parts has every summary of a command that
	// prints several, by part name.
	Summary Summary            `json:"summary"`
	Parts   map[string]Summary `json:"parts,omitempty"`
	// Server are the servers' own figures from their /metrics (absent when
	// a scrape failed; ServerError says why).
	Server      *ServerFigures `json:"server,omitempty"`
	ServerError string         `json:"server_error,omitempty"`
	Error       string         `json:"error,omitempty"`
}

// Summary is what etcd's benchmark tool prints at the end of a run.
type Summary struct {
	TotalSecs   float64 `json:"total_secs"`
	ReqPerSec   float64 `json:"req_per_sec"`
	AverageSecs float64 `json:"average_secs"`
	SlowestSecs float64 `json:"slowest_secs"`
	// Latency maps a percentile ("50", "99", "99.9") to seconds.
	Latency map[string]float64 `json:"latency_secs"`
	// Errors counts failed requests by message.
	Errors map[string]int `json:"errors,omitempty"`
}

// Failed is the number of failed requests.
func (s Summary) Failed() int {
	n := 0
	for _, c := range s.Errors {
		n += c
	}
	return n
}

// Failed is the number of failed requests over every part.
func (m Measurement) Failed() int {
	if len(m.Parts) == 0 {
		return m.Summary.Failed()
	}
	n := 0
	for _, s := range m.Parts {
		n += s.Failed()
	}
	return n
}

// session starts a fresh cluster of system with n nodes under dir, runs the
// cases against it in order (writing the range key before the first range)
// and stops it.
func session(ctx context.Context, bins Binaries, system string, n int, dir string, cases []Case, repeat int) ([]Measurement, error) {
	c, err := startCluster(ctx, bins, system, n, dir)
	if err != nil {
		return nil, err
	}
	defer c.stop()
	var ms []Measurement
	seeded := false
	for _, cs := range cases {
		if cs.Args[0] == "range" && !seeded {
			if err := c.seed(ctx, rangeKey, valSize); err != nil {
				return ms, err
			}
			seeded = true
		}
		m, err := runCase(ctx, bins.Benchmark, c, cs, dir)
		m.System, m.Nodes, m.Repeat = system, n, repeat
		ms = append(ms, m)
		if err != nil {
			return ms, fmt.Errorf("%s: %w", cs.Name, err)
		}
		fmt.Fprintf(os.Stderr, "repeat %d  %d node(s)  %-15s %-16s %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms  failed %d\n",
			repeat+1, n, system, cs.Name, m.Summary.ReqPerSec, m.Summary.Latency["50"]*1e3, m.Summary.Latency["99"]*1e3, m.Failed())
		if err := c.alive(); err != nil {
			return ms, err
		}
	}
	return ms, nil
}

// benchArgs is the full argument list for one case against endpoints.
// With more than one node, --target-leader sends every request to the
// leader (as etcd's performance guide does), so no system gains or loses by
// which member a connection happens to reach.
func benchArgs(cs Case, endpoints []string) []string {
	conns := 1
	if cs.Clients >= 1000 {
		conns = conns1000
	}
	args := []string{
		"--endpoints=" + strings.Join(endpoints, ","),
		fmt.Sprintf("--conns=%d", conns),
		fmt.Sprintf("--clients=%d", cs.Clients),
		"--precise",
	}
	if len(endpoints) > 1 {
		args = append(args, "--target-leader")
	}
	return append(args, cs.Args...)
}

func runCase(ctx context.Context, bin string, c *cluster, cs Case, dir string) (Measurement, error) {
	args := benchArgs(cs, c.endpoints())
	m := Measurement{
		Case:    cs.Name,
		Command: "benchmark " + strings.Join(args, " "),
		Started: time.Now().UTC(),
	}
	outPath := filepath.Join(dir, "bench-"+slug(cs.Name)+".txt")
	m.Output = outPath
	f, err := os.Create(outPath)
	if err != nil {
		return m, err
	}
	defer f.Close()
	fmt.Fprintf(f, "# %s %s\n", bin, strings.Join(args, " "))
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	// The servers' figures are scraped around the case; a failed scrape
	// leaves them out and is recorded, the case stands.
	before, serr := scrapeAll(cctx, c)
	cmd := exec.CommandContext(cctx, bin, args...)
	cmd.Stdout = f
	cmd.Stderr = f
	runErr := cmd.Run()
	if serr == nil {
		var after *scrape
		if after, serr = scrapeAll(cctx, c); serr == nil {
			m.Server = figures(before, after)
		}
	}
	if serr != nil {
		m.ServerError = serr.Error()
	}
	if err := f.Sync(); err != nil {
		return m, err
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		return m, err
	}
	sum, parts, perr := parseOutput(cs.Args[0], string(b))
	m.Summary, m.Parts = sum, parts
	if runErr != nil {
		m.Error = runErr.Error()
		return m, fmt.Errorf("benchmark: %v (output %s)", runErr, outPath)
	}
	if perr != nil {
		m.Error = perr.Error()
		return m, fmt.Errorf("parse %s: %w", outPath, perr)
	}
	if n := m.Failed(); n > 0 {
		// A run with failed requests is kept but flagged: its throughput
		// counts only successes and would flatter a failing system.
		m.Error = fmt.Sprintf("%d of %d requests failed", n, cs.Total)
	}
	return m, nil
}

var (
	reField   = regexp.MustCompile(`^\s*(Total|Slowest|Fastest|Average|Stddev|Requests/sec):\s*([0-9.eE+-]+)`)
	rePct     = regexp.MustCompile(`^\s*([0-9.]+)% in ([0-9.eE+-]+) secs\.`)
	reErrLine = regexp.MustCompile(`^\s*\[(\d+)\]\s+(.*)$`)
)

// toolPercentiles are the percentiles the tool prints (pkg/report).
var toolPercentiles = []string{"10", "25", "50", "75", "90", "95", "99", "99.9"}

// errNoSummary means the output holds no "Summary:" block.
var errNoSummary = errors.New("compare-etcd: no Summary block in the benchmark output")

// parseSummary reads the last Summary block of etcd benchmark output (the
// tool prints a Summary, a histogram, a latency distribution and, when some
// requests failed, an error distribution).
func parseSummary(out string) (Summary, error) {
	i := strings.LastIndex(out, "\nSummary:")
	if i < 0 && !strings.HasPrefix(out, "Summary:") {
		// With every request failed the tool prints only the errors.
		var s Summary
		if j := strings.LastIndex(out, "\nError distribution:"); j >= 0 {
			for _, line := range strings.Split(out[j+1:], "\n") {
				if m := reErrLine.FindStringSubmatch(line); m != nil {
					n, _ := strconv.Atoi(m[1])
					if s.Errors == nil {
						s.Errors = map[string]int{}
					}
					s.Errors[m[2]] += n
				}
			}
		}
		return s, errNoSummary
	}
	if i >= 0 {
		out = out[i+1:]
	}
	s := Summary{Latency: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	section := ""
	seenRPS := false
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasSuffix(trim, ":") && !strings.Contains(trim, " in "):
			section = strings.TrimSuffix(trim, ":")
			continue
		}
		if m := reField.FindStringSubmatch(line); m != nil && section == "Summary" {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				return s, fmt.Errorf("compare-etcd: %s value %q: %w", m[1], m[2], err)
			}
			switch m[1] {
			case "Total":
				s.TotalSecs = v
			case "Slowest":
				s.SlowestSecs = v
			case "Average":
				s.AverageSecs = v
			case "Requests/sec":
				s.ReqPerSec = v
				seenRPS = true
			}
			continue
		}
		if section == "Latency distribution" {
			if m := rePct.FindStringSubmatch(line); m != nil {
				v, err := strconv.ParseFloat(m[2], 64)
				if err != nil {
					return s, fmt.Errorf("compare-etcd: latency %s%%: %q: %w", m[1], m[2], err)
				}
				s.Latency[m[1]] = v
			}
			continue
		}
		if section == "Error distribution" {
			if m := reErrLine.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[1])
				if s.Errors == nil {
					s.Errors = map[string]int{}
				}
				s.Errors[m[2]] += n
			}
		}
	}
	if !seenRPS {
		return s, errors.New("compare-etcd: no Requests/sec line in the Summary block")
	}
	// The tool prints a percentile only when it is above 0 (watch-latency
	// counts an event that arrived before its put's response as 0): one
	// missing below a printed one was 0.
	for i, p := range toolPercentiles {
		if _, ok := s.Latency[p]; ok {
			continue
		}
		for _, q := range toolPercentiles[i+1:] {
			if _, ok := s.Latency[q]; ok {
				s.Latency[p] = 0
				break
			}
		}
	}
	if _, ok := s.Latency["99"]; !ok && s.Failed() == 0 {
		return s, errors.New("compare-etcd: no 99% latency line")
	}
	return s, nil
}
