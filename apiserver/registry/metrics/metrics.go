// Package metrics serves metrics.k8s.io/v1beta1 NodeMetrics and
// PodMetrics, computed on each request from the kubelets' stats summaries
// as metrics-server computes them: CPU as the growth of the cumulative
// usage counter over a window between scrapes (Rater), memory as the
// working set. Nothing is stored; a node whose kubelet does not answer is
// left out of lists, as metrics-server leaves it out.
package metrics

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	kubelet "minik8s/api/kubelet"
	metav1 "minik8s/api/meta/v1"
	metricsv1beta1 "minik8s/api/metrics/v1beta1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/core/pods"
	"minik8s/apiserver/registry/rest"
)

// scrapeTimeout bounds one kubelet's answer, so one dead node does not
// hold up kubectl top for all.
const scrapeTimeout = 5 * time.Second

// ObjectSource reads stored objects: the generic store's resources.
type ObjectSource interface {
	rest.Getter
	rest.Lister
}

// Provider computes the metrics. Nodes and Pods read the stored objects
// (authorization of the metrics request covers them, as metrics-server's
// own reads do).
type Provider struct {
	Nodes, Pods ObjectSource
	// Kubelet says where a node's kubelet is.
	Kubelet pods.KubeletConfig
	// HTTP is the client for the kubelets; nil is pods.KubeletHTTP.
	HTTP *http.Client

	rater Rater
}

func (p *Provider) httpClient() *http.Client {
	if p.HTTP != nil {
		return p.HTTP
	}
	return pods.KubeletHTTP
}

// summaries scrapes the kubelets of nodes concurrently; nodes whose
// kubelet fails are absent from the answer, their errors in errs.
func (p *Provider) summaries(ctx context.Context, nodes []*corev1.Node) (map[string]*kubelet.Summary, map[string]error) {
	var mu sync.Mutex
	out, errs := map[string]*kubelet.Summary{}, map[string]error{}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := n.GetMetadata().GetName()
			s, err := p.summary(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[name] = err
				return
			}
			out[name] = s
		}()
	}
	wg.Wait()
	p.rater.Forget(time.Now())
	return out, errs
}

func (p *Provider) summary(ctx context.Context, n *corev1.Node) (*kubelet.Summary, error) {
	base, err := p.Kubelet.KubeletURL(n)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	s, err := kubelet.GetSummary(ctx, p.httpClient(), base)
	if err != nil {
		return nil, pods.KubeletError(n.GetMetadata().GetName(), err)
	}
	return s, nil
}

// usage is the ResourceList of a CPU rate and a working set.
func usage(nanoCores, workingSet uint64) map[string]string {
	mem := strconv.FormatUint(workingSet, 10)
	if workingSet%1024 == 0 {
		mem = strconv.FormatUint(workingSet/1024, 10) + "Ki"
	}
	return map[string]string{"cpu": strconv.FormatUint(nanoCores, 10) + "n", "memory": mem}
}

// window is a metav1.Duration's text, whole milliseconds.
func window(d time.Duration) string { return d.Round(time.Millisecond).String() }

func (p *Provider) cpu(key string, c *kubelet.CPU) (uint64, time.Duration, time.Time) {
	if c == nil {
		return 0, MinWindow, time.Time{}
	}
	n, w := p.rater.Rate(key, Sample{Time: c.Time, CoreNanos: c.UsageCoreNanoSeconds, KubeletNanoCPU: c.UsageNanoCores})
	return n, w, c.Time
}

func memWorkingSet(m *kubelet.Memory) uint64 {
	if m == nil {
		return 0
	}
	return m.WorkingSetBytes
}

func (p *Provider) nodeMetrics(n *corev1.Node, s *kubelet.Summary) *metricsv1beta1.NodeMetrics {
	name := n.GetMetadata().GetName()
	cpu, w, at := p.cpu("node/"+name, s.Node.CPU)
	if at.IsZero() {
		at = time.Now()
	}
	return &metricsv1beta1.NodeMetrics{
		ApiVersion: "metrics.k8s.io/v1beta1", Kind: "NodeMetrics",
		Metadata:  &metav1.ObjectMeta{Name: name, Labels: n.GetMetadata().GetLabels(), CreationTimestamp: timestamppb.Now()},
		Timestamp: timestamppb.New(at), Window: window(w),
		Usage: usage(cpu, memWorkingSet(s.Node.Memory)),
	}
}

// podMetrics is nil when the summary does not have the pod (not sampled
// yet, or not running), as metrics-server has no metrics for it then.
func (p *Provider) podMetrics(pod *corev1.Pod, s *kubelet.Summary) *metricsv1beta1.PodMetrics {
	md := pod.GetMetadata()
	for _, ps := range s.Pods {
		if ps.PodRef.Namespace != md.GetNamespace() || ps.PodRef.Name != md.GetName() || (ps.PodRef.UID != "" && ps.PodRef.UID != md.GetUid()) {
			continue
		}
		if len(ps.Containers) == 0 {
			return nil
		}
		out := &metricsv1beta1.PodMetrics{
			ApiVersion: "metrics.k8s.io/v1beta1", Kind: "PodMetrics",
			Metadata: &metav1.ObjectMeta{Name: md.GetName(), Namespace: md.GetNamespace(), Labels: md.GetLabels(), CreationTimestamp: timestamppb.Now()},
		}
		var latest time.Time
		var longest time.Duration
		for _, c := range ps.Containers {
			key := "pod/" + md.GetNamespace() + "/" + md.GetName() + "/" + md.GetUid() + "/" + c.Name
			cpu, w, at := p.cpu(key, c.CPU)
			if at.After(latest) {
				latest = at
			}
			longest = max(longest, w)
			out.Containers = append(out.Containers, &metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: usage(cpu, memWorkingSet(c.Memory))})
		}
		sort.Slice(out.Containers, func(i, j int) bool { return out.Containers[i].Name < out.Containers[j].Name })
		if latest.IsZero() {
			latest = time.Now()
		}
		out.Timestamp, out.Window = timestamppb.New(latest), window(longest)
		return out
	}
	return nil
}

// NodeStorage serves metrics.k8s.io nodes: get and list.
type NodeStorage struct{ P *Provider }

// Kind implements rest.Storage.
func (NodeStorage) Kind() *scheme.Kind { return metricsv1beta1.NodeMetricsKind }

func notFound(resource, name string) error {
	return apierrors.NewNotFound(resource+".metrics.k8s.io", name)
}

// Get returns one node's metrics; a node whose kubelet does not answer has
// none (NotFound, as metrics-server answers).
func (s NodeStorage) Get(ctx context.Context, _, name string) (scheme.Object, error) {
	obj, err := s.P.Nodes.Get(ctx, "", name)
	if err != nil {
		return nil, err
	}
	n := obj.(*corev1.Node)
	sums, _ := s.P.summaries(ctx, []*corev1.Node{n})
	sum, ok := sums[name]
	if !ok {
		return nil, notFound("nodemetrics", name)
	}
	return s.P.nodeMetrics(n, sum), nil
}

// List returns the metrics of the nodes the options select.
func (s NodeStorage) List(ctx context.Context, _ string, o rest.ListOptions) (*rest.ListResult, error) {
	res, err := s.P.Nodes.List(ctx, "", selectOnly(o))
	if err != nil {
		return nil, err
	}
	nodes := make([]*corev1.Node, len(res.Items))
	for i, it := range res.Items {
		nodes[i] = it.Object.(*corev1.Node)
	}
	sums, _ := s.P.summaries(ctx, nodes)
	out := &rest.ListResult{}
	for _, n := range nodes {
		if sum, ok := sums[n.GetMetadata().GetName()]; ok {
			out.Items = append(out.Items, cache.NewItem(s.P.nodeMetrics(n, sum)))
		}
	}
	return out, nil
}

// selectOnly keeps the selectors of a list: metrics have no versions or
// pages of their own.
func selectOnly(o rest.ListOptions) rest.ListOptions {
	return rest.ListOptions{LabelSelector: o.LabelSelector, FieldSelector: o.FieldSelector}
}

// PodStorage serves metrics.k8s.io pods: get and list, by namespace.
type PodStorage struct{ P *Provider }

// Kind implements rest.Storage.
func (PodStorage) Kind() *scheme.Kind { return metricsv1beta1.PodMetricsKind }

// Get returns one pod's metrics.
func (s PodStorage) Get(ctx context.Context, ns, name string) (scheme.Object, error) {
	obj, err := s.P.Pods.Get(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	pm := s.P.forPods(ctx, []*corev1.Pod{obj.(*corev1.Pod)})
	if len(pm) == 0 {
		return nil, notFound("podmetrics", name)
	}
	return pm[0], nil
}

// List returns the metrics of the running pods the options select.
func (s PodStorage) List(ctx context.Context, ns string, o rest.ListOptions) (*rest.ListResult, error) {
	res, err := s.P.Pods.List(ctx, ns, selectOnly(o))
	if err != nil {
		return nil, err
	}
	list := make([]*corev1.Pod, len(res.Items))
	for i, it := range res.Items {
		list[i] = it.Object.(*corev1.Pod)
	}
	out := &rest.ListResult{}
	for _, pm := range s.P.forPods(ctx, list) {
		out.Items = append(out.Items, cache.NewItem(pm))
	}
	return out, nil
}

// forPods scrapes the nodes of the pods (each once) and returns the
// metrics of those pods the kubelets report, in the order given.
func (p *Provider) forPods(ctx context.Context, list []*corev1.Pod) []*metricsv1beta1.PodMetrics {
	var nodes []*corev1.Node
	seen := map[string]bool{}
	for _, pod := range list {
		name := pod.GetSpec().GetNodeName()
		if name == "" || seen[name] || pod.GetStatus().GetPhase() != "Running" {
			continue
		}
		seen[name] = true
		obj, err := p.Nodes.Get(ctx, "", name)
		if err != nil {
			continue
		}
		nodes = append(nodes, obj.(*corev1.Node))
	}
	sums, _ := p.summaries(ctx, nodes)
	var out []*metricsv1beta1.PodMetrics
	for _, pod := range list {
		sum, ok := sums[pod.GetSpec().GetNodeName()]
		if !ok {
			continue
		}
		if pm := p.podMetrics(pod, sum); pm != nil {
			out = append(out, pm)
		}
	}
	return out
}
