package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/metrics"
	"etcdlab/internal/clock"
)

// HTTP paths etcd serves beside its gRPC API (server/etcdserver/api/etcdhttp
// and pkg/debugutil).
const (
	PathMetrics = "/metrics"
	PathHealth  = "/health"
	PathPprof   = "/debug/pprof"
)

// httpMux is what etcd serves over HTTP/1 on its client URLs: /metrics,
// /health and, with pprof, /debug/pprof/. The metrics URLs
// (--listen-metrics-urls) serve the same without pprof.
func httpMux(n *cluster.Node, m *metrics.Metrics, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(PathMetrics, m.Handler())
	mux.Handle(PathHealth, healthHandler(n, m))
	if withPprof {
		mux.HandleFunc(PathPprof+"/", pprof.Index)
		mux.HandleFunc(PathPprof+"/cmdline", pprof.Cmdline)
		mux.HandleFunc(PathPprof+"/profile", pprof.Profile)
		mux.HandleFunc(PathPprof+"/symbol", pprof.Symbol)
		mux.HandleFunc(PathPprof+"/trace", pprof.Trace)
	}
	return mux
}

// health is etcd's /health answer.
type health struct {
	Health string `json:"health"`
	Reason string `json:"reason"`
}

// healthHandler answers /health as etcd 3.6 does (etcdhttp.HandleHealth):
// GET only; unhealthy when an alarm is raised (unless ?exclude=NAME names
// it), when there is no leader (unless ?serializable=true), or when a
// one-key range (serializable with ?serializable=true, else linearizable)
// fails within the request timeout. 200 with {"health":"true","reason":""}
// or 503 with the reason.
func healthHandler(n *cluster.Node, m *metrics.Metrics) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		excluded := make(map[string]bool)
		for _, a := range r.URL.Query()["exclude"] {
			if a != "" {
				excluded[a] = true
			}
		}
		serializable := r.URL.Query().Get("serializable") == "true"
		h := checkHealth(r.Context(), n, excluded, serializable)
		if h.Health == "true" {
			m.HealthSuccess.Inc()
		} else {
			m.HealthFailures.Inc()
		}
		d, _ := json.Marshal(h)
		if h.Health != "true" {
			http.Error(w, string(d), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(d)
	}
}

func checkHealth(ctx context.Context, n *cluster.Node, excluded map[string]bool, serializable bool) health {
	for _, a := range n.AlarmList() {
		if excluded[a.Alarm.String()] {
			continue
		}
		switch a.Alarm {
		case pb.AlarmType_NOSPACE:
			return health{"false", "ALARM NOSPACE"}
		case pb.AlarmType_CORRUPT:
			return health{"false", "ALARM CORRUPT"}
		default:
			return health{"false", "ALARM UNKNOWN"}
		}
	}
	if !serializable && n.Leader() == 0 {
		return health{"false", "RAFT NO LEADER"}
	}
	cctx, cancel := context.WithTimeout(ctx, n.Options().RequestTimeout)
	defer cancel()
	if _, err := n.Range(cctx, &pb.RangeRequest{Key: []byte{0}, KeysOnly: true, Limit: 1, Serializable: serializable}); err != nil {
		return health{"false", fmt.Sprintf("RANGE ERROR:%s", err)}
	}
	return health{"true", ""}
}

// http2Preface opens every HTTP/2 connection made with prior knowledge, as
// gRPC clients make theirs; no HTTP/1 request line starts with "PRI ".
const http2Preface = "PRI "

// sniffTimeout bounds how long a new client connection may take to send its
// first four bytes before it is dropped.
const sniffTimeout = 10 * time.Second

// splitListener serves gRPC and HTTP/1 on one port, as etcd does on its
// client URLs (etcd uses cmux): each accepted connection goes to the gRPC
// listener when it opens with the HTTP/2 preface and to the HTTP listener
// otherwise. The choice is made once per connection, never per request.
type splitListener struct {
	root net.Listener
	// clk dates the sniff deadline: a socket deadline is wall time, so it
	// must be the real clock (Serve's default).
	clk        clock.Clock
	grpc, http *chanListener
	done       chan struct{}
	closeOnce  sync.Once
}

func newSplitListener(root net.Listener, clk clock.Clock) *splitListener {
	s := &splitListener{root: root, clk: clk, done: make(chan struct{})}
	s.grpc = &chanListener{parent: s, c: make(chan net.Conn)}
	s.http = &chanListener{parent: s, c: make(chan net.Conn)}
	go s.acceptLoop()
	return s
}

func (s *splitListener) acceptLoop() {
	for {
		c, err := s.root.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.close()
			return
		}
		go s.route(c)
	}
}

func (s *splitListener) route(c net.Conn) {
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(s.clk.Now().Add(sniffTimeout))
	head, err := br.Peek(len(http2Preface))
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		_ = c.Close()
		return
	}
	to := s.http
	if string(head) == http2Preface {
		to = s.grpc
	}
	select {
	case to.c <- &peekedConn{Conn: c, r: br}:
	case <-s.done:
		_ = c.Close()
	}
}

func (s *splitListener) close() {
	s.closeOnce.Do(func() {
		close(s.done)
		_ = s.root.Close()
	})
}

// chanListener is one side of a splitListener. Closing either side closes
// the port: the gRPC server and the HTTP server stop together.
type chanListener struct {
	parent *splitListener
	c      chan net.Conn
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.parent.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { l.parent.close(); return nil }
func (l *chanListener) Addr() net.Addr { return l.parent.root.Addr() }

// peekedConn replays the bytes read to route the connection.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
