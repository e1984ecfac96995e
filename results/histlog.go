package results

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// ErrBadHistLog marks a histogram log line that cannot be read.
var ErrBadHistLog = errors.New("results: malformed histogram log")

// HistLogUnit is the duration of one value in the histograms of the logs
// WriteHistogramLog writes (the bench records nanoseconds).
const HistLogUnit = time.Nanosecond

// LogInterval is one histogram line of an HdrHistogram log: a tag (the op
// kind), the interval's start and length relative to the log's start time,
// its max in nanoseconds and the histogram in the log's compressed base64
// encoding (hdrhistogram-go's EncodeV2).
type LogInterval struct {
	Tag     string
	Start   time.Duration
	Length  time.Duration
	MaxNs   int64
	Payload string
}

// WriteHistogramLog writes intervals in the HdrHistogram log format 1.3,
// with start as the log's StartTime and BaseTime (interval timestamps are
// relative to it). Values are nanoseconds; the interval max column is in
// milliseconds, as the format's default unit ratio has it.
func WriteHistogramLog(w io.Writer, start time.Time, comment string, intervals []LogInterval) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "#[Histogram log format version 1.3]\n")
	if comment != "" {
		fmt.Fprintf(bw, "#%s\n", comment)
	}
	ms := start.UnixMilli()
	fmt.Fprintf(bw, "#[StartTime: %.3f (seconds since epoch), %s]\n", float64(ms)/1000, start.UTC().Format(time.RFC3339))
	fmt.Fprintf(bw, "#[BaseTime: %.3f (seconds since epoch)]\n", float64(ms)/1000)
	fmt.Fprintf(bw, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n")
	for _, iv := range intervals {
		if iv.Tag != "" {
			fmt.Fprintf(bw, "Tag=%s,", iv.Tag)
		}
		fmt.Fprintf(bw, "%.3f,%.3f,%.3f,%s\n", iv.Start.Seconds(), iv.Length.Seconds(), float64(iv.MaxNs)/1e6, iv.Payload)
	}
	return bw.Flush()
}

// ReadHistLog reads an HdrHistogram interval log (as WriteHistogramLog
// writes it) and merges its intervals per tag: the result maps each op kind
// to its histogram over the whole log, values in HistLogUnit. Lines without
// a tag are merged under "". A malformed line is an error naming it.
func ReadHistLog(path string) (map[string]*hdrhistogram.Histogram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	m, err := ParseHistLog(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseHistLog is ReadHistLog over a reader.
func ParseHistLog(r io.Reader) (map[string]*hdrhistogram.Histogram, error) {
	out := map[string]*hdrhistogram.Histogram{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20) // a payload line can be long
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '"' {
			continue // comment, header or column names
		}
		tag := ""
		if rest, ok := strings.CutPrefix(line, "Tag="); ok {
			t, body, found := strings.Cut(rest, ",")
			if !found {
				return nil, fmt.Errorf("%w: line %d: a tag without an interval", ErrBadHistLog, ln)
			}
			tag, line = t, body
		}
		cols := strings.Split(line, ",")
		if len(cols) != 4 {
			return nil, fmt.Errorf("%w: line %d: %d columns, want start,length,max,histogram", ErrBadHistLog, ln, len(cols))
		}
		for _, c := range cols[:3] {
			if _, err := strconv.ParseFloat(c, 64); err != nil {
				return nil, fmt.Errorf("%w: line %d: %q is not a number", ErrBadHistLog, ln, c)
			}
		}
		h, err := hdrhistogram.Decode([]byte(cols[3]))
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: histogram payload: %v", ErrBadHistLog, ln, err)
		}
		if acc, ok := out[tag]; ok {
			if dropped := acc.Merge(h); dropped > 0 {
				return nil, fmt.Errorf("%w: line %d: %d values outside the first histogram's range", ErrBadHistLog, ln, dropped)
			}
		} else {
			out[tag] = h
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHistLog, err)
	}
	return out, nil
}
