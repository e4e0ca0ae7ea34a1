package framework

import (
	"sort"
	"strings"
)

// Required inter-pod affinity needs, for every pod scheduled, counts over
// every placed pod in the cluster: how many pods a term selects per
// topology domain, and which domains hold pods whose anti-affinity selects
// the new pod. Between two decisions only a few nodes change, and the pods
// of one workload share their terms and labels, so the Algorithm keeps
// these counts across decisions, keyed by what was matched (a term, or a
// pod's namespace and labels), as per-node contributions plus their sum.
// Each decision re-examines only the nodes whose NodeInfo version changed
// (every NodeInfo constructor, clone and change draws a new version, so
// the same version means the same pods and labels) and adjusts the sum by
// the difference. Contributions that depend
// on namespace labels (terms with a namespaceSelector) are recomputed
// every time, as namespaces change without any NodeInfo changing.

// maxMemoKeys bounds the memo; beyond it (pods with unique labels or
// terms) the oldest key is dropped and rebuilt when needed again.
const maxMemoKeys = 64

// domainCount is one node's contribution to one domain.
type domainCount struct {
	key, value string
	n          int
}

type nodeMemo struct {
	version  uint64 // of the NodeInfo it was computed from
	contrib  []domainCount
	volatile bool // depends on namespace labels: recompute every time
}

// memoEntry is one key's per-node contributions, indexed by the node's
// position in the snapshot, and their sum.
type memoEntry struct {
	nodes []nodeMemo
	sum   domainCounts
}

func (e *memoEntry) apply(contrib []domainCount, sign int) {
	for _, dc := range contrib {
		e.sum.add(dc.key, dc.value, sign*dc.n)
	}
}

// update brings the sum up to date with nodes: compute(n) returns a node's
// contribution and whether it is volatile.
func (e *memoEntry) update(nodes []*NodeInfo, compute func(n *NodeInfo) ([]domainCount, bool)) domainCounts {
	for i, n := range nodes {
		if i < len(e.nodes) {
			old := &e.nodes[i]
			if old.version == n.version && n.version != 0 && !old.volatile {
				continue
			}
			e.apply(old.contrib, -1)
		} else {
			e.nodes = append(e.nodes, nodeMemo{})
		}
		contrib, volatile := compute(n)
		e.apply(contrib, 1)
		e.nodes[i] = nodeMemo{version: n.version, contrib: contrib, volatile: volatile}
	}
	for i := len(nodes); i < len(e.nodes); i++ {
		e.apply(e.nodes[i].contrib, -1)
	}
	clear(e.nodes[len(nodes):])
	e.nodes = e.nodes[:len(nodes)]
	return e.sum
}

type affinityMemo struct {
	byKey map[string]*memoEntry
	order []string // keys, oldest first
}

func newAffinityMemo() *affinityMemo {
	return &affinityMemo{byKey: map[string]*memoEntry{}}
}

// entry returns key's memo, creating it (and evicting the oldest key when
// full). A nil memo gives a fresh, unremembered entry.
func (m *affinityMemo) entry(key string) *memoEntry {
	if m == nil {
		return &memoEntry{sum: domainCounts{}}
	}
	if e, ok := m.byKey[key]; ok {
		return e
	}
	if len(m.order) >= maxMemoKeys {
		delete(m.byKey, m.order[0])
		m.order = m.order[1:]
	}
	e := &memoEntry{sum: domainCounts{}}
	m.byKey[key] = e
	m.order = append(m.order, key)
	return e
}

// termKey identifies a term by what it selects and its topology key.
func termKey(t *AffinityTerm) string {
	ns := make([]string, 0, len(t.Namespaces))
	for n := range t.Namespaces {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	nsSel := "-"
	if t.NamespaceSelector != nil {
		nsSel = t.NamespaceSelector.String()
	}
	return t.TopologyKey + "\x00" + strings.Join(ns, ",") + "\x00" + nsSel + "\x00" + t.Selector.String()
}

// termsKey identifies a list of terms.
func termsKey(terms []AffinityTerm) string {
	parts := make([]string, len(terms))
	for i := range terms {
		parts[i] = termKey(&terms[i])
	}
	return strings.Join(parts, "\x01")
}

// podMatchKey identifies what placed pods' terms can see of a pod: its
// namespace and labels.
func podMatchKey(p *PodInfo) string {
	keys := make([]string, 0, len(p.Labels))
	for k := range p.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(p.Namespace)
	for _, k := range keys {
		b.WriteString("\x00")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(p.Labels[k])
	}
	return b.String()
}

func hasNamespaceSelector(terms []AffinityTerm) bool {
	for i := range terms {
		if s := terms[i].NamespaceSelector; s != nil && !s.Empty() {
			return true
		}
	}
	return false
}

// existingAntiDomains returns, per domain, the placed pods whose required
// anti-affinity selects the cycle's pod.
func (c *cycle) existingAntiDomains() domainCounts {
	e := c.memo.entry("existing-anti\x00" + podMatchKey(c.pod))
	return e.update(c.snap.Nodes, func(n *NodeInfo) ([]domainCount, bool) {
		var out []domainCount
		volatile := false
		for _, e := range n.PodsWithRequiredAntiAffinity {
			volatile = volatile || hasNamespaceSelector(e.RequiredAntiAffinity)
			for j := range e.RequiredAntiAffinity {
				t := &e.RequiredAntiAffinity[j]
				if v, ok := n.Labels[t.TopologyKey]; ok && t.Matches(c.pod, c.snap.NamespaceLabels) {
					out = append(out, domainCount{t.TopologyKey, v, 1})
				}
			}
		}
		return out, volatile
	})
}

// matchingDomains counts, per domain of each term's topology key, the
// placed pods that match every one of terms.
func (c *cycle) matchingDomains(kind string, terms []AffinityTerm) domainCounts {
	e := c.memo.entry(kind + "\x00" + termsKey(terms))
	volatile := hasNamespaceSelector(terms)
	return e.update(c.snap.Nodes, func(n *NodeInfo) ([]domainCount, bool) {
		count := 0
		for _, e := range n.Pods {
			if matchesAllTerms(terms, e, c.snap.NamespaceLabels) {
				count++
			}
		}
		if count == 0 {
			return nil, volatile
		}
		out := make([]domainCount, 0, len(terms))
		for _, t := range terms {
			if v, ok := n.Labels[t.TopologyKey]; ok {
				out = append(out, domainCount{t.TopologyKey, v, count})
			}
		}
		return out, volatile
	})
}
