package podautoscaler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	kubelet "minik8s/api/kubelet"
)

// StatsSource reads a node's kubelet stats summary (JSON of
// api/kubelet.Summary); *client.Client does so through the
// apiserver's node proxy, the same path `minictl top` takes.
type StatsSource interface {
	NodeStats(ctx context.Context, node string) ([]byte, error)
}

// usage is one pod's reported usage in milli units; a nil field was not
// reported.
type usage struct {
	cpu, memory *int64
}

func (u usage) of(resource string) (int64, bool) {
	var p *int64
	switch resource {
	case "cpu":
		p = u.cpu
	case "memory":
		p = u.memory
	}
	if p == nil {
		return 0, false
	}
	return *p, true
}

// statsReader fetches and decodes summaries, one NodeStats call per node,
// and keeps each for ttl so that autoscalers synced close together (or
// several autoscalers over one node) share a sample, as they share the
// metrics pipeline's scrape in Kubernetes, and do not make the kubelet
// compute CPU rates over tiny intervals.
type statsReader struct {
	src StatsSource
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	cache map[string]cachedSummary
}

type cachedSummary struct {
	at  time.Time
	sum *kubelet.Summary
}

// maxStatsCalls bounds the NodeStats calls of one sync in flight at once.
const maxStatsCalls = 8

// podUsage returns the usage of pods (keyed by namespace/name) from the
// summaries of the nodes hosting them, and an error per node whose
// summary could not be read; pods of such nodes are simply missing. A
// summary entry counts only for the pod of the same uid, so a StatefulSet
// pod recreated under its old name never inherits its predecessor's numbers.
func (r *statsReader) podUsage(ctx context.Context, pods []*corev1.Pod) (map[string]usage, []error) {
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if n := p.GetSpec().GetNodeName(); n != "" {
			byNode[n] = append(byNode[n], p)
		}
	}
	nodes := make([]string, 0, len(byNode))
	for n := range byNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	sums := make([]*kubelet.Summary, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxStatsCalls)
	for i, n := range nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sums[i], errs[i] = r.summary(ctx, n)
		}()
	}
	wg.Wait()
	out := map[string]usage{}
	var failed []error
	for i, n := range nodes {
		if errs[i] != nil {
			failed = append(failed, fmt.Errorf("node %s: %w", n, errs[i]))
			continue
		}
		want := map[string]*corev1.Pod{}
		for _, p := range byNode[n] {
			want[p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName()] = p
		}
		for _, ps := range sums[i].Pods {
			key := ps.PodRef.Namespace + "/" + ps.PodRef.Name
			p, ok := want[key]
			if !ok || (ps.PodRef.UID != "" && ps.PodRef.UID != p.GetMetadata().GetUid()) {
				continue
			}
			var u usage
			if ps.CPU != nil {
				v := int64(ps.CPU.UsageNanoCores / 1e6)
				u.cpu = &v
			}
			if ps.Memory != nil {
				v := int64(ps.Memory.WorkingSetBytes) * 1000
				u.memory = &v
			}
			out[key] = u
		}
	}
	return out, failed
}

// summary returns node's summary, from the cache while it is fresh.
func (r *statsReader) summary(ctx context.Context, node string) (*kubelet.Summary, error) {
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[node]
	r.mu.Unlock()
	if ok && now.Sub(c.at) < r.ttl {
		return c.sum, nil
	}
	data, err := r.src.NodeStats(ctx, node)
	if err != nil {
		return nil, err
	}
	var s kubelet.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode stats summary: %w", err)
	}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]cachedSummary{}
	}
	r.cache[node] = cachedSummary{at: now, sum: &s}
	// Forget nodes nobody asked about for a while (deleted nodes).
	for n, c := range r.cache {
		if now.Sub(c.at) > 10*r.ttl+time.Minute {
			delete(r.cache, n)
		}
	}
	r.mu.Unlock()
	return &s, nil
}

// fetchError summarizes the per-node errors of a read.
func fetchError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}
