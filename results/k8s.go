package results

// K8sResult is what the k8s driver did over the measured phase (runs of a
// workload with a k8s section; absent otherwise). The op figures of the
// clients' requests are under Result.Ops by the generator's kinds
// ("txn-cas" is an update, "insert" a create, "range" a whole paginated
// list); these are the apiserver-level counts beside them.
type K8sResult struct {
	// TimeScale is the workload's k8s.time_scale: every period below ran
	// this many times faster than the apiserver's.
	TimeScale float64 `json:"time_scale"`
	// Ops counts the driver's requests by the apiserver's name: create,
	// update, delete, get, get_at_revision, list, election_update (the
	// leader-election loop's), count (the object count poll's, one per
	// resource), each once however many txns or pages it took.
	Ops map[string]int64 `json:"ops"`
	// Conflicts are optimistic txns whose mod_revision compare failed
	// (the cache was stale, or a create found the key); Retries the txns
	// re-sent with the revision the failure's Get returned; NotFound the
	// updates and deletes of objects that did not exist (one Get each).
	Conflicts int64 `json:"conflicts"`
	Retries   int64 `json:"retries"`
	NotFound  int64 `json:"not_found"`
	// ListPages are the Range requests of the lists, ListKeys the keys
	// they returned, ListCount the sum of etcd's Count of each list's
	// first page (the whole namespace, whatever the limit).
	ListPages int64 `json:"list_pages"`
	ListKeys  int64 `json:"list_keys"`
	ListCount int64 `json:"list_count"`
	// Compactions are the apiserver-style compactions the driver made
	// (the Txn on compact_rev_key, then Compact to the revision of one
	// interval earlier), in order.
	Compactions []K8sCompaction `json:"compactions,omitempty"`
	// Leases granted for events and the grants that failed; EventsLeased
	// the event writes that carried a lease; EventsExpired the event
	// objects whose lease's TTL ran out (the driver's count, at TTL plus
	// a second, of objects still attached to that lease).
	LeasesGranted    int64 `json:"leases_granted"`
	LeaseGrantErrors int64 `json:"lease_grant_errors"`
	EventsLeased     int64 `json:"events_leased"`
	EventsExpired    int64 `json:"events_expired"`
	// ElectionConflicts are leader-election updates whose compare failed.
	ElectionConflicts int64 `json:"election_conflicts"`
	// InitialList is the List of every resource after the preload that
	// filled the driver's revision cache: objects, pages, its revision and
	// how long it took (outside the measured phase). The per-resource
	// watchers open when the measured phase begins (Watch.StartRev).
	InitialListObjects int64   `json:"initial_list_objects"`
	InitialListPages   int64   `json:"initial_list_pages"`
	InitialListRev     int64   `json:"initial_list_rev"`
	InitialListS       float64 `json:"initial_list_s"`
	// LiveObjects and LiveLogicalBytes are the objects that exist at the
	// end, by the driver's cache, and their key plus value bytes (see
	// Sample.LiveLogicalBytes).
	LiveObjects      int64 `json:"live_objects"`
	LiveLogicalBytes int64 `json:"live_logical_bytes"`
}

// K8sCompaction is one compaction the k8s driver made.
type K8sCompaction struct {
	// AtS is when it was sent, in seconds from the start of the measured
	// phase; Revision the revision compacted to; DurationS how long the
	// Compact request took (etcd answers once the compaction is applied
	// and scheduled; the store's deletion of old revisions continues in the
	// background, see the "compaction" events).
	AtS       float64 `json:"at_s"`
	Revision  int64   `json:"revision"`
	DurationS float64 `json:"duration_s"`
	Error     string  `json:"error,omitempty"`
}
