package results

import (
	"bufio"
	"fmt"
	"io"
	"time"
)

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
