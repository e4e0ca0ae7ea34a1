package web

import (
	"context"
	"net/http"

	apierrors "minik8s/api/errors"
	metricsv1beta1 "minik8s/api/metrics/v1beta1"
	"minik8s/api/resource"
)

// The charts' data: the metrics API's current usage of nodes and pods,
// read as the user (RBAC decides: metrics.k8s.io nodes are cluster-wide,
// pods are per namespace, and the view role reads both). The metrics API
// has no watch, so the app asks again every few seconds while a chart is
// on screen and keeps the history itself (see app.js).

// Usage is one object's CPU and memory use at a moment.
type Usage struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// CPUMilli is the CPU use in millicores, MemoryBytes the working set.
	CPUMilli    int64 `json:"cpuMilli"`
	MemoryBytes int64 `json:"memoryBytes"`
	// Timestamp ends the window the CPU rate was measured over.
	Timestamp string `json:"timestamp"`
	Window    string `json:"window"`
	// Containers are a pod's parts of its usage (empty for a node).
	Containers []Usage `json:"containers,omitempty"`
}

// usageOf parses a ResourceList's cpu and memory; a malformed or missing
// quantity counts as 0.
func usageOf(u map[string]string) (cpuMilli, memBytes int64) {
	cpuMilli, _ = resource.ParseQuantity(u["cpu"])
	mem, _ := resource.ParseQuantity(u["memory"])
	return cpuMilli, mem / 1000
}

func nodeUsage(items []*metricsv1beta1.NodeMetrics) []Usage {
	rows := make([]Usage, 0, len(items))
	for _, m := range items {
		cpu, mem := usageOf(m.GetUsage())
		rows = append(rows, Usage{Name: m.GetMetadata().GetName(), CPUMilli: cpu, MemoryBytes: mem,
			Timestamp: created(m.GetTimestamp()), Window: m.GetWindow()})
	}
	sortRows(rows, func(r Usage) string { return r.Name })
	return rows
}

func podUsage(items []*metricsv1beta1.PodMetrics) []Usage {
	rows := make([]Usage, 0, len(items))
	for _, m := range items {
		row := Usage{Namespace: m.GetMetadata().GetNamespace(), Name: m.GetMetadata().GetName(),
			Timestamp: created(m.GetTimestamp()), Window: m.GetWindow(), Containers: []Usage{}}
		for _, c := range m.GetContainers() {
			cpu, mem := usageOf(c.GetUsage())
			row.CPUMilli += cpu
			row.MemoryBytes += mem
			row.Containers = append(row.Containers, Usage{Name: c.GetName(), CPUMilli: cpu, MemoryBytes: mem})
		}
		rows = append(rows, row)
	}
	sortRows(rows, func(r Usage) string { return r.Namespace + "/" + r.Name })
	return rows
}

// nodeMetrics answers GET /api/metrics/nodes.
func (s *Server) nodeMetrics(w http.ResponseWriter, r *http.Request) {
	if s.api.NodeMetrics == nil {
		writeError(w, apierrors.NewNotFound("nodes.metrics.k8s.io", ""))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	items, err := s.api.NodeMetrics(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nodeUsage(items)})
}

// podMetrics answers GET /api/metrics/pods?namespace=&name=.
func (s *Server) podMetrics(w http.ResponseWriter, r *http.Request) {
	if s.api.PodMetrics == nil {
		writeError(w, apierrors.NewNotFound("pods.metrics.k8s.io", ""))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	q := r.URL.Query()
	items, err := s.api.PodMetrics(ctx, q.Get("namespace"), q.Get("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": podUsage(items)})
}
