package workloads

// MeanObjectBytes is the expected key + value bytes of one preloaded object
// of the spec (after EnsureDefaults): the mean key size (flat keys: the
// middle of keys.size; Kubernetes-shaped keys: the mean over the resources,
// which ids are spread over round robin) plus the middle of value_size.
// A preload of n ids writes about n × MeanObjectBytes logical bytes.
//
// A minimal version for --scale; the k8s workload's value distribution
// supersedes it.
func (s *Spec) MeanObjectBytes() float64 {
	k := &s.Keys
	var key float64
	if k.Shape == ShapeK8s && len(k.Resources) > 0 {
		for _, r := range k.Resources {
			obj := r
			if len(obj) > 1 && obj[len(obj)-1] == 's' {
				obj = obj[:len(obj)-1] // as appendK8sKey names objects
			}
			key += float64(len(k.Prefix) + len(r) + len("/ns-") + k8sNsDigits + len("/"+obj+"-") + k8sNameDigits)
		}
		key /= float64(len(k.Resources))
	} else {
		key = float64(k.Size.Min+k.Size.Max) / 2
	}
	return key + float64(s.ValueSize.Min+s.ValueSize.Max)/2
}
