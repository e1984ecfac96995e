package harness

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"

	"etcdlab/cluster"
	"etcdlab/cluster/transport"
	"etcdlab/engines"
	"etcdlab/internal/clock"
)

// Options configures a cluster started by Start.
type Options struct {
	// Nodes is the number of initial members (1, 3, 5, 7...). Default 1.
	Nodes int
	// Dir holds one data directory per node (Dir/node-<id>). Required.
	Dir string
	// Node is the template for every node's options; ID, Dir and Peers are
	// filled in per node, OnEvent and Clock from below if unset there.
	Node cluster.NodeOptions
	// Seed drives the in-process network's random choices (loss, jitter).
	Seed uint64
	// Link shapes every link of the in-process network at start.
	Link transport.LinkConfig
	// TCP runs the nodes over TCP on 127.0.0.1 instead of the in-process
	// network.
	TCP bool
	// Clock drives every node and the network. Default clock.Real().
	Clock clock.Clock
	// OnEvent receives every node's events.
	OnEvent func(cluster.Event)
	// WrapTransport, if set, wraps each node's transport (fault injection,
	// message recording in tests).
	WrapTransport func(id uint64, tr transport.Transport) transport.Transport
	// WrapFS, if set, wraps node id's file system for the WAL and snapshots
	// each time the node starts (fault injection: a slow or full disk).
	WrapFS func(id uint64, fs vfs.FS) vfs.FS
	// WrapEngine, if set, wraps node id's storage engine each time one is
	// opened, at start and when a snapshot image is installed (fault
	// injection through the engines.Engine interface: the same code for
	// every engine).
	WrapEngine func(id uint64, e engines.Engine) engines.Engine
}

// EnsureDefaults fills unset fields.
func (o *Options) EnsureDefaults() {
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Node.Clock == nil {
		o.Node.Clock = o.Clock
	}
	if o.Node.OnEvent == nil {
		o.Node.OnEvent = o.OnEvent
	}
}

// Validate reports every problem at once.
func (o Options) Validate() error {
	var errs []error
	if o.Nodes < 1 {
		errs = append(errs, fmt.Errorf("%w: Nodes %d must be at least 1", cluster.ErrBadOption, o.Nodes))
	}
	if o.Dir == "" {
		errs = append(errs, fmt.Errorf("%w: Dir must be set", cluster.ErrBadOption))
	}
	if err := o.Link.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: link: %w", cluster.ErrBadOption, err))
	}
	if o.Node.Metrics != nil {
		// One Metrics per node: a shared one would report whichever node
		// started last.
		errs = append(errs, fmt.Errorf("%w: Node.Metrics must be nil in a cluster template; every node makes its own (Node.Metrics())", cluster.ErrBadOption))
	}
	if err := o.Node.ValidateTemplate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// String renders the options for result files.
func (o Options) String() string {
	tr := "inproc"
	if o.TCP {
		tr = "tcp"
	}
	return fmt.Sprintf("nodes=%d transport=%s seed=%d link-delay=%v link-jitter=%v link-loss=%g %s",
		o.Nodes, tr, o.Seed, o.Link.Delay, o.Link.Jitter, o.Link.Loss, o.Node)
}

// Cluster is a set of nodes in one process, on the in-process network or
// over TCP, with the controls tests and experiments need.
type Cluster struct {
	opts Options
	net  *transport.Network

	mu    sync.Mutex
	nodes map[uint64]*cluster.Node
	addrs map[uint64]string
	// bound holds the listeners Start bound for the nodes over TCP, each
	// handed to its node's transport at the node's first start.
	bound  map[uint64]net.Listener
	peers  []cluster.Peer
	nextID uint64
}

// Start creates (or reopens) a cluster of opts.Nodes nodes and starts them.
func Start(opts Options) (*Cluster, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, nodes: make(map[uint64]*cluster.Node), addrs: make(map[uint64]string), bound: make(map[uint64]net.Listener)}
	if !opts.TCP {
		nw, err := transport.NewNetwork(transport.NetworkOptions{Seed: opts.Seed, Clock: opts.Clock})
		if err != nil {
			return nil, err
		}
		if err := nw.SetAllLinks(opts.Link); err != nil {
			return nil, err
		}
		c.net = nw
	}
	for i := 1; i <= opts.Nodes; i++ {
		id := uint64(i)
		addr := ""
		if opts.TCP {
			// Bind now, and keep the listener until the node serves on it,
			// so every node knows every address before it starts and no
			// node's outgoing dial can take another's port meanwhile.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				c.closeBound()
				return nil, fmt.Errorf("cluster: reserve port: %w", err)
			}
			c.bound[id] = l
			addr = l.Addr().String()
		}
		c.addrs[id] = addr
		c.peers = append(c.peers, cluster.Peer{ID: id, Addr: addr})
	}
	c.nextID = uint64(opts.Nodes) + 1
	for _, p := range c.peers {
		if err := c.startNode(p.ID, false); err != nil {
			c.closeBound()
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// closeBound closes the listeners no node has taken.
func (c *Cluster) closeBound() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, l := range c.bound {
		_ = l.Close()
		delete(c.bound, id)
	}
}

// takeBound returns the listener Start bound for id, once.
func (c *Cluster) takeBound(id uint64) net.Listener {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.bound[id]
	delete(c.bound, id)
	return l
}

func (c *Cluster) nodeOptions(id uint64, join bool) cluster.NodeOptions {
	o := c.opts.Node
	o.ID = id
	o.Dir = filepath.Join(c.opts.Dir, fmt.Sprintf("node-%d", id))
	o.Peers = append([]cluster.Peer(nil), c.peers...)
	o.Join = join
	if c.opts.WrapFS != nil {
		fs := o.FS
		if fs == nil {
			fs = vfs.Default
		}
		o.FS = c.opts.WrapFS(id, fs)
	}
	if wrap := c.opts.WrapEngine; wrap != nil {
		inner := o.WrapEngine
		o.WrapEngine = func(e engines.Engine) engines.Engine {
			if inner != nil {
				e = inner(e)
			}
			return wrap(id, e)
		}
	}
	return o
}

func (c *Cluster) startNode(id uint64, join bool) error {
	o := c.nodeOptions(id, join)
	newTr := func(h transport.Handler) (transport.Transport, error) {
		if c.net != nil {
			tr := c.net.Join(id, h)
			if c.opts.WrapTransport != nil {
				tr = c.opts.WrapTransport(id, tr)
			}
			return tr, nil
		}
		peers := make(map[uint64]string)
		for pid, a := range c.addrs {
			if pid != id {
				peers[pid] = a
			}
		}
		tr, err := transport.NewTCP(transport.TCPOptions{ID: id, ListenAddr: c.addrs[id], Listener: c.takeBound(id), Handler: h, Peers: peers, Clock: c.opts.Clock})
		if err != nil {
			return nil, err
		}
		return tr, nil
	}
	n, err := cluster.StartNode(o, newTr)
	if err != nil {
		return fmt.Errorf("cluster: start node %d: %w", id, err)
	}
	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
	return nil
}

// Node returns the running node id (nil if stopped or unknown).
func (c *Cluster) Node(id uint64) *cluster.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// Nodes returns the running nodes ordered by ID.
func (c *Cluster) Nodes() []*cluster.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*cluster.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// Leader returns the ID of a running node that believes it leads, with the
// highest term among such nodes, or 0.
func (c *Cluster) Leader() uint64 {
	var best uint64
	var term uint64
	for _, n := range c.Nodes() {
		if n.IsLeader() && n.Term() >= term {
			best, term = n.ID(), n.Term()
		}
	}
	return best
}

// Network returns the in-process network (nil over TCP).
func (c *Cluster) Network() *transport.Network { return c.net }

// Kill drops node id without a clean shutdown: its pending backend writes
// are lost, as in a crash; only what the WAL synced survives.
func (c *Cluster) Kill(id uint64) error {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return fmt.Errorf("%w: node %d is not running", cluster.ErrBadOption, id)
	}
	n.Kill()
	return nil
}

// Stop stops node id cleanly.
func (c *Cluster) Stop(id uint64) error {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return fmt.Errorf("%w: node %d is not running", cluster.ErrBadOption, id)
	}
	return n.Stop()
}

// Restart starts a stopped or killed node again from its data directory.
func (c *Cluster) Restart(id uint64) error {
	if c.Node(id) != nil {
		return fmt.Errorf("%w: node %d is running", cluster.ErrBadOption, id)
	}
	return c.startNode(id, false)
}

// Partition cuts the in-process network into groups.
func (c *Cluster) Partition(groups ...[]uint64) { c.net.Partition(groups...) }

// Heal removes every partition.
func (c *Cluster) Heal() { c.net.Heal() }

// NewMemberID reserves an ID (and over TCP an address) for a member to add.
func (c *Cluster) NewMemberID() (uint64, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	addr := ""
	if c.opts.TCP {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, "", fmt.Errorf("cluster: reserve port: %w", err)
		}
		c.bound[id] = l // served on when the member starts (see Start)
		addr = l.Addr().String()
	}
	c.addrs[id] = addr
	return id, addr, nil
}

// StartMember starts a node added by a membership change: it begins empty
// and receives the log (or a snapshot) from the leader.
func (c *Cluster) StartMember(id uint64) error {
	c.mu.Lock()
	if _, ok := c.addrs[id]; !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: member %d was not reserved with NewMemberID", cluster.ErrBadOption, id)
	}
	c.mu.Unlock()
	return c.startNode(id, true)
}

// Defrag defragments node id's backend.
func (c *Cluster) Defrag(id uint64) error {
	n := c.Node(id)
	if n == nil {
		return fmt.Errorf("%w: node %d is not running", cluster.ErrBadOption, id)
	}
	return n.Defrag()
}

// Close stops every node.
func (c *Cluster) Close() error {
	var errs []error
	for _, n := range c.Nodes() {
		c.mu.Lock()
		delete(c.nodes, n.ID())
		c.mu.Unlock()
		errs = append(errs, n.Stop())
	}
	c.closeBound()
	return errors.Join(errs...)
}

// NodeDir returns the data directory of node id.
func (c *Cluster) NodeDir(id uint64) string {
	return filepath.Join(c.opts.Dir, fmt.Sprintf("node-%d", id))
}
