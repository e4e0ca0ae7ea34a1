package web

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/fields"
	metav1 "minik8s/api/meta/v1"
	networkingv1 "minik8s/api/networking/v1"
	"minik8s/api/printers"
	"minik8s/api/rpc"
)

// callTimeout bounds one page's apiserver calls.
const callTimeout = 15 * time.Second

func created(ts *timestamppb.Timestamp) string {
	if ts == nil || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

// PodRow is one line of the pods page.
type PodRow struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Ready     string `json:"ready"`
	Status    string `json:"status"`
	Restarts  string `json:"restarts"`
	Node      string `json:"node"`
	IP        string `json:"ip"`
	Created   string `json:"created"`
	// ResourceVersion orders the updates of one pod.
	ResourceVersion string `json:"resourceVersion"`
}

// podRow summarizes p as kubectl get pods -o wide does.
func podRow(p *corev1.Pod, now time.Time) PodRow {
	sum := printers.SummarizePod(p, now)
	md := p.GetMetadata()
	return PodRow{
		Namespace: md.GetNamespace(), Name: md.GetName(),
		Ready: sum.Ready, Status: sum.Status, Restarts: sum.Restarts,
		Node: p.GetSpec().GetNodeName(), IP: p.GetStatus().GetPodIP(),
		Created: created(md.GetCreationTimestamp()), ResourceVersion: md.GetResourceVersion(),
	}
}

func sortRows[T any](rows []T, key func(T) string) {
	slices.SortFunc(rows, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
}

func (s *Server) listPods(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	list, err := s.api.Pods.List(ctx, r.URL.Query().Get("namespace"), client.ListOptions{LabelSelector: r.URL.Query().Get("labelSelector")})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": s.podRows(list.Items), "resourceVersion": list.ResourceVersion})
}

func (s *Server) podRows(pods []*corev1.Pod) []PodRow {
	now := s.now()
	rows := make([]PodRow, 0, len(pods))
	for _, p := range pods {
		rows = append(rows, podRow(p, now))
	}
	sortRows(rows, func(r PodRow) string { return r.Namespace + "/" + r.Name })
	return rows
}

// NodeRow is one node of the overview.
type NodeRow struct {
	Name        string            `json:"name"`
	Status      string            `json:"status"`
	Roles       string            `json:"roles"`
	InternalIP  string            `json:"internalIP"`
	Version     string            `json:"version"`
	Capacity    map[string]string `json:"capacity"`
	Allocatable map[string]string `json:"allocatable"`
	Pods        int               `json:"pods"`
	Created     string            `json:"created"`
}

// NamespaceRow is one namespace of the overview.
type NamespaceRow struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Created string `json:"created"`
}

// Section is a part of a page the user may not be allowed to read: its
// items, or the apiserver's refusal.
type Section[T any] struct {
	Items []T       `json:"items"`
	Error *APIError `json:"error,omitempty"`
}

func section[T any](items []T, err error) Section[T] {
	if err != nil {
		e := errorOf(err)
		return Section[T]{Items: []T{}, Error: &e}
	}
	if items == nil {
		items = []T{}
	}
	return Section[T]{Items: items}
}

// overview reads nodes, namespaces and pods (for the per-node count);
// each part the user may not list shows the apiserver's refusal instead.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	if err := unauthorized(ctx, s.api); err != nil {
		writeError(w, err)
		return
	}
	var nodes []NodeRow
	nodeList, nodeErr := s.api.Nodes.List(ctx, "", client.ListOptions{})
	pods, podErr := s.api.Pods.List(ctx, "", client.ListOptions{})
	perNode := map[string]int{}
	if podErr == nil {
		for _, p := range pods.Items {
			if ph, n := p.GetStatus().GetPhase(), p.GetSpec().GetNodeName(); n != "" && ph != "Succeeded" && ph != "Failed" {
				perNode[n]++
			}
		}
	}
	if nodeErr == nil {
		for _, n := range nodeList.Items {
			row := NodeRow{
				Name: n.GetMetadata().GetName(), Status: printers.NodeStatus(n), Roles: printers.NodeRoles(n),
				Version:  n.GetStatus().GetNodeInfo().GetKubeletVersion(),
				Capacity: n.GetStatus().GetCapacity(), Allocatable: n.GetStatus().GetAllocatable(),
				Pods: perNode[n.GetMetadata().GetName()], Created: created(n.GetMetadata().GetCreationTimestamp()),
			}
			for _, a := range n.GetStatus().GetAddresses() {
				if a.GetType() == "InternalIP" {
					row.InternalIP = a.GetAddress()
				}
			}
			nodes = append(nodes, row)
		}
		sortRows(nodes, func(r NodeRow) string { return r.Name })
	}
	nss, nsErr := s.namespaceRows(ctx)
	comps, compErr := s.componentRows(ctx)
	out := map[string]any{"nodes": section(nodes, nodeErr), "namespaces": section(nss, nsErr), "components": section(comps, compErr)}
	if podErr != nil {
		e := errorOf(podErr)
		out["podsError"] = &e
	} else {
		out["podCount"] = len(pods.Items)
	}
	writeJSON(w, http.StatusOK, out)
}

// unauthorized returns the error of a token the apiserver no longer
// accepts, so a page answers 401 (and the app shows the login page)
// rather than a page of refusals.
func unauthorized(ctx context.Context, api API) error {
	if _, err := api.WhoAmI(ctx); err != nil && apierrors.ReasonOf(err) == apierrors.ReasonUnauthorized {
		return err
	}
	return nil
}

func (s *Server) namespaceRows(ctx context.Context) ([]NamespaceRow, error) {
	list, err := s.api.Namespaces.List(ctx, "", client.ListOptions{})
	if err != nil {
		return nil, err
	}
	rows := make([]NamespaceRow, 0, len(list.Items))
	for _, n := range list.Items {
		rows = append(rows, NamespaceRow{Name: n.GetMetadata().GetName(), Status: n.GetStatus().GetPhase(), Created: created(n.GetMetadata().GetCreationTimestamp())})
	}
	sortRows(rows, func(r NamespaceRow) string { return r.Name })
	return rows, nil
}

func (s *Server) namespaces(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	rows, err := s.namespaceRows(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": rows})
}

// whoami names the logged-in user.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	u, err := s.api.WhoAmI(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"username": u.GetUsername(), "groups": u.GetGroups()})
}

// EventRow is one event.
type EventRow struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	Reason    string `json:"reason"`
	Object    string `json:"object"`
	Source    string `json:"source"`
	Message   string `json:"message"`
	Count     int32  `json:"count"`
	Last      string `json:"last"`
	// ResourceVersion orders the updates of one event (a repeat raises
	// its count).
	ResourceVersion string `json:"resourceVersion"`
}

func eventRow(e *corev1.Event) EventRow {
	last := e.GetLastTimestamp()
	if last == nil {
		last = e.GetMetadata().GetCreationTimestamp()
	}
	io := e.GetInvolvedObject()
	return EventRow{
		Namespace: e.GetMetadata().GetNamespace(), Name: e.GetMetadata().GetName(), Type: e.GetType(), Reason: e.GetReason(),
		Object: strings.ToLower(io.GetKind()) + "/" + io.GetName(), Source: printers.EventSource(e),
		Message: e.GetMessage(), Count: max(e.GetCount(), 1), Last: created(last),
		ResourceVersion: e.GetMetadata().GetResourceVersion(),
	}
}

// eventRows are the events oldest first.
func eventRows(events []*corev1.Event) []EventRow {
	rows := make([]EventRow, 0, len(events))
	for _, e := range events {
		rows = append(rows, eventRow(e))
	}
	sortRows(rows, func(r EventRow) string { return r.Last })
	return rows
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	list, err := s.api.Events.List(ctx, r.URL.Query().Get("namespace"), client.ListOptions{})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": eventRows(list.Items)})
}

// ContainerRow is one container of a pod's detail.
type ContainerRow struct {
	Name     string `json:"name"`
	Image    string `json:"image"`
	Ready    bool   `json:"ready"`
	State    string `json:"state"`
	Restarts int32  `json:"restarts"`
}

func containerState(cs *corev1.ContainerStatus) string {
	switch st := cs.GetState(); {
	case st.GetRunning() != nil:
		return "Running since " + created(st.GetRunning().GetStartedAt())
	case st.GetWaiting() != nil:
		return strings.TrimSpace("Waiting " + st.GetWaiting().GetReason())
	case st.GetTerminated() != nil:
		return fmt.Sprintf("Terminated %s (exit %d)", st.GetTerminated().GetReason(), st.GetTerminated().GetExitCode())
	}
	return "Unknown"
}

// podDetail is a pod's summary, containers, conditions and events (the
// events only if the user may list them; else their refusal).
func (s *Server) podDetail(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	p, err := s.api.Pods.Get(ctx, ns, name)
	if err != nil {
		writeError(w, err)
		return
	}
	statuses := map[string]*corev1.ContainerStatus{}
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		statuses[cs.GetName()] = cs
	}
	var containers []ContainerRow
	for _, c := range p.GetSpec().GetContainers() {
		row := ContainerRow{Name: c.GetName(), Image: c.GetImage(), State: "Waiting"}
		if cs := statuses[c.GetName()]; cs != nil {
			row.Ready, row.State, row.Restarts = cs.GetReady(), containerState(cs), cs.GetRestartCount()
		}
		containers = append(containers, row)
	}
	var conditions []map[string]string
	for _, c := range p.GetStatus().GetConditions() {
		conditions = append(conditions, map[string]string{"type": c.GetType(), "status": c.GetStatus(), "reason": c.GetReason(), "message": c.GetMessage()})
	}
	sel := eventSelector("Pod", p.GetMetadata())
	events, evErr := s.api.Events.List(ctx, ns, client.ListOptions{FieldSelector: sel})
	var evRows []EventRow
	if evErr == nil {
		evRows = eventRows(events.Items)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"pod": podRow(p, s.now()),
		// The page follows its events with GET /api/events/watch?fieldSelector=.
		"eventSelector":  sel,
		"labels":         p.GetMetadata().GetLabels(),
		"serviceAccount": p.GetSpec().GetServiceAccountName(),
		"containers":     containers,
		"conditions":     conditions,
		"events":         section(evRows, evErr),
	})
}

// eventSelector selects the events about one object as kubectl describe
// does: by kind, name, namespace and uid, so the events of an earlier
// object of the same name are not shown as this one's.
func eventSelector(kind string, md *metav1.ObjectMeta) string {
	sel := []string{
		"involvedObject.kind=" + fields.Escape(kind),
		"involvedObject.name=" + fields.Escape(md.GetName()),
		"involvedObject.namespace=" + fields.Escape(md.GetNamespace()),
	}
	if uid := md.GetUid(); uid != "" {
		sel = append(sel, "involvedObject.uid="+fields.Escape(uid))
	}
	return strings.Join(sel, ",")
}

// maxLogBytes bounds a log page that does not follow.
const maxLogBytes = 2 << 20

// podLog copies a container's log as text; with follow=1 it streams as
// the container writes, until the browser leaves.
func (s *Server) podLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := &rpc.PodLogsRequest{Namespace: r.PathValue("namespace"), Name: r.PathValue("name"), Container: q.Get("container"), TailLines: 500, Follow: q.Get("follow") == "1"}
	if q.Get("previous") == "1" {
		req.Previous = true
	}
	ctx := r.Context()
	if !req.Follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	lw := &logWriter{w: w, rc: http.NewResponseController(w), limit: maxLogBytes, follow: req.Follow}
	err := s.api.Logs(ctx, req, lw)
	if err != nil && !lw.started {
		writeError(w, err)
		return
	}
	if err != nil {
		fmt.Fprintf(lw, "\n[log stream ended: %s]\n", errorOf(err).Error)
	}
	if !lw.started {
		lw.header()
	}
}

// logWriter sends the log as plain text, flushing each chunk when
// following; the header goes out with the first byte, so an error before
// it can still be a JSON error.
type logWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	follow  bool
	limit   int
	n       int
}

func (l *logWriter) header() {
	l.started = true
	l.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	l.w.WriteHeader(http.StatusOK)
}

func (l *logWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.header()
	}
	if !l.follow && l.n+len(p) > l.limit {
		return 0, fmt.Errorf("log longer than %d bytes", l.limit)
	}
	l.n += len(p)
	n, err := l.w.Write(p)
	if err == nil && l.follow {
		err = l.rc.Flush()
	}
	return n, err
}

// DeploymentRow is one deployment with its rollout state.
type DeploymentRow struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Desired   int32  `json:"desired"`
	Current   int32  `json:"current"`
	Ready     int32  `json:"ready"`
	Updated   int32  `json:"updated"`
	Available int32  `json:"available"`
	Rollout   string `json:"rollout"`
	Images    string `json:"images"`
	Created   string `json:"created"`
}

// rollout says where a deployment's rollout stands, in the words of
// kubectl rollout status.
func rollout(d *appsv1.Deployment, desired int32) string {
	st := d.GetStatus()
	switch {
	case st.GetObservedGeneration() < d.GetMetadata().GetGeneration():
		return "waiting for the controller to observe the change"
	case st.GetUpdatedReplicas() < desired:
		return fmt.Sprintf("%d of %d new replicas updated", st.GetUpdatedReplicas(), desired)
	case st.GetReplicas() > st.GetUpdatedReplicas():
		return fmt.Sprintf("%d old replicas pending termination", st.GetReplicas()-st.GetUpdatedReplicas())
	case st.GetAvailableReplicas() < st.GetUpdatedReplicas():
		return fmt.Sprintf("%d of %d updated replicas available", st.GetAvailableReplicas(), st.GetUpdatedReplicas())
	}
	return "complete"
}

func deploymentRow(d *appsv1.Deployment) DeploymentRow {
	desired := printers.DesiredReplicas(d.GetSpec())
	var images []string
	for _, c := range d.GetSpec().GetTemplate().GetSpec().GetContainers() {
		images = append(images, c.GetImage())
	}
	st := d.GetStatus()
	return DeploymentRow{
		Namespace: d.GetMetadata().GetNamespace(), Name: d.GetMetadata().GetName(),
		Desired: desired, Current: st.GetReplicas(), Ready: st.GetReadyReplicas(), Updated: st.GetUpdatedReplicas(),
		Available: st.GetAvailableReplicas(), Rollout: rollout(d, desired), Images: strings.Join(images, ","),
		Created: created(d.GetMetadata().GetCreationTimestamp()),
	}
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	list, err := s.api.Deployments.List(ctx, r.URL.Query().Get("namespace"), client.ListOptions{})
	if err != nil {
		writeError(w, err)
		return
	}
	rows := make([]DeploymentRow, 0, len(list.Items))
	for _, d := range list.Items {
		rows = append(rows, deploymentRow(d))
	}
	sortRows(rows, func(r DeploymentRow) string { return r.Namespace + "/" + r.Name })
	writeJSON(w, http.StatusOK, map[string]any{"items": rows})
}

// maxReplicas bounds a scale from the dashboard (a typo should not ask
// for a million pods).
const maxReplicas = 1000

// scaleDeployment sets spec.replicas as the user: read, change, update,
// again on a conflict. A user who may not update deployments gets the
// apiserver's Forbidden, word for word.
func (s *Server) scaleDeployment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Replicas *int32 `json:"replicas"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Replicas == nil {
		writeError(w, apierrors.NewBadRequest(`the body must be {"replicas": N}`))
		return
	}
	if n := *body.Replicas; n < 0 || n > maxReplicas {
		writeError(w, apierrors.NewInvalid("Deployment", r.PathValue("name"), []apierrors.FieldError{
			apierrors.Invalid("spec.replicas", n, fmt.Sprintf("must be between 0 and %d", maxReplicas))}))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	var out *appsv1.Deployment
	err := client.RetryOnConflict(ctx, client.DefaultRetry, func() error {
		d, err := s.api.Deployments.Get(ctx, ns, name)
		if err != nil {
			return err
		}
		d.Spec.Replicas = body.Replicas
		out, err = s.api.Deployments.Update(ctx, d)
		return err
	})
	if err != nil {
		s.log.Info("scale refused", "deployment", ns+"/"+name, "reason", apierrors.ReasonOf(err))
		writeError(w, err)
		return
	}
	s.log.Info("scaled", "deployment", ns+"/"+name, "replicas", *body.Replicas)
	writeJSON(w, http.StatusOK, deploymentRow(out))
}

// ServiceRow is one service with its endpoints.
type ServiceRow struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	ClusterIP string   `json:"clusterIP"`
	Ports     []string `json:"ports"`
	Selector  string   `json:"selector"`
	Endpoints []string `json:"endpoints"`
	NotReady  []string `json:"notReady"`
	Created   string   `json:"created"`
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	ns := r.URL.Query().Get("namespace")
	list, err := s.api.Services.List(ctx, ns, client.ListOptions{})
	if err != nil {
		writeError(w, err)
		return
	}
	eps, epErr := s.api.Endpoints.List(ctx, ns, client.ListOptions{})
	byName := map[string]*corev1.Endpoints{}
	if epErr == nil {
		for _, e := range eps.Items {
			byName[e.GetMetadata().GetNamespace()+"/"+e.GetMetadata().GetName()] = e
		}
	}
	rows := make([]ServiceRow, 0, len(list.Items))
	for _, svc := range list.Items {
		row := ServiceRow{
			Namespace: svc.GetMetadata().GetNamespace(), Name: svc.GetMetadata().GetName(),
			Type: printers.ServiceType(svc), ClusterIP: svc.GetSpec().GetClusterIP(),
			Selector: printers.FormatLabels(svc.GetSpec().GetSelector()), Ports: []string{}, Endpoints: []string{}, NotReady: []string{},
			Created: created(svc.GetMetadata().GetCreationTimestamp()),
		}
		for _, p := range svc.GetSpec().GetPorts() {
			port := fmt.Sprintf("%d/%s", p.GetPort(), cmp.Or(p.GetProtocol(), "TCP"))
			if p.GetNodePort() != 0 {
				port = fmt.Sprintf("%d:%d/%s", p.GetPort(), p.GetNodePort(), cmp.Or(p.GetProtocol(), "TCP"))
			}
			row.Ports = append(row.Ports, port)
		}
		if e := byName[row.Namespace+"/"+row.Name]; e != nil {
			for _, sub := range e.GetSubsets() {
				for _, a := range sub.GetAddresses() {
					for _, p := range sub.GetPorts() {
						row.Endpoints = append(row.Endpoints, fmt.Sprintf("%s:%d", a.GetIp(), p.GetPort()))
					}
				}
				for _, a := range sub.GetNotReadyAddresses() {
					row.NotReady = append(row.NotReady, a.GetIp())
				}
			}
		}
		rows = append(rows, row)
	}
	sortRows(rows, func(r ServiceRow) string { return r.Namespace + "/" + r.Name })
	out := map[string]any{"items": rows}
	if epErr != nil {
		e := errorOf(epErr)
		out["endpointsError"] = &e
	}
	writeJSON(w, http.StatusOK, out)
}

// ComponentRow is one control-plane component's health.
type ComponentRow struct {
	Name    string `json:"name"`
	Healthy bool   `json:"healthy"`
	Message string `json:"message"`
}

func (s *Server) componentRows(ctx context.Context) ([]ComponentRow, error) {
	list, err := s.api.ComponentStatuses.List(ctx, "", client.ListOptions{})
	if err != nil {
		return nil, err
	}
	rows := make([]ComponentRow, 0, len(list.Items))
	for _, c := range list.Items {
		row := ComponentRow{Name: c.GetMetadata().GetName()}
		for _, cond := range c.GetConditions() {
			if cond.GetType() == "Healthy" {
				row.Healthy = cond.GetStatus() == "True"
				row.Message = cmp.Or(cond.GetMessage(), cond.GetError())
			}
		}
		rows = append(rows, row)
	}
	sortRows(rows, func(r ComponentRow) string { return r.Name })
	return rows, nil
}

// IngressRow is one ingress with its rules flattened to "host/path ->
// service:port" lines.
type IngressRow struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Class     string   `json:"class"`
	Rules     []string `json:"rules"`
	TLS       []string `json:"tls"`
	Address   string   `json:"address"`
	Created   string   `json:"created"`
}

func backendString(b interface {
	GetService() *networkingv1.IngressServiceBackend
}) string {
	svc := b.GetService()
	if svc == nil {
		return "<resource>"
	}
	port := svc.GetPort().GetName()
	if port == "" {
		port = strconv.Itoa(int(svc.GetPort().GetNumber()))
	}
	return svc.GetName() + ":" + port
}

func (s *Server) listIngresses(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	list, err := s.api.Ingresses.List(ctx, r.URL.Query().Get("namespace"), client.ListOptions{})
	if err != nil {
		writeError(w, err)
		return
	}
	rows := make([]IngressRow, 0, len(list.Items))
	for _, in := range list.Items {
		row := IngressRow{Namespace: in.GetMetadata().GetNamespace(), Name: in.GetMetadata().GetName(),
			Class: in.GetSpec().GetIngressClassName(), Rules: []string{}, TLS: []string{},
			Created: created(in.GetMetadata().GetCreationTimestamp())}
		if b := in.GetSpec().GetDefaultBackend(); b != nil {
			row.Rules = append(row.Rules, "(default) -> "+backendString(b))
		}
		for _, rule := range in.GetSpec().GetRules() {
			for _, p := range rule.GetHttp().GetPaths() {
				row.Rules = append(row.Rules, fmt.Sprintf("%s%s (%s) -> %s", cmp.Or(rule.GetHost(), "*"), p.GetPath(), p.GetPathType(), backendString(p.GetBackend())))
			}
		}
		for _, t := range in.GetSpec().GetTls() {
			row.TLS = append(row.TLS, strings.Join(t.GetHosts(), ",")+" ("+t.GetSecretName()+")")
		}
		var addrs []string
		for _, lb := range in.GetStatus().GetLoadBalancer().GetIngress() {
			addrs = append(addrs, cmp.Or(lb.GetIp(), lb.GetHostname()))
		}
		row.Address = strings.Join(addrs, ",")
		rows = append(rows, row)
	}
	sortRows(rows, func(r IngressRow) string { return r.Namespace + "/" + r.Name })
	writeJSON(w, http.StatusOK, map[string]any{"items": rows})
}

// ReplicaSetRow is one replica set with its owner.
type ReplicaSetRow struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Owner     string `json:"owner"`
	Desired   int32  `json:"desired"`
	Current   int32  `json:"current"`
	Ready     int32  `json:"ready"`
	Images    string `json:"images"`
	Created   string `json:"created"`
}

func (s *Server) listReplicaSets(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	list, err := s.api.ReplicaSets.List(ctx, r.URL.Query().Get("namespace"), client.ListOptions{})
	if err != nil {
		writeError(w, err)
		return
	}
	rows := make([]ReplicaSetRow, 0, len(list.Items))
	for _, rs := range list.Items {
		var images []string
		for _, c := range rs.GetSpec().GetTemplate().GetSpec().GetContainers() {
			images = append(images, c.GetImage())
		}
		row := ReplicaSetRow{Namespace: rs.GetMetadata().GetNamespace(), Name: rs.GetMetadata().GetName(),
			Desired: printers.DesiredReplicas(rs.GetSpec()), Current: rs.GetStatus().GetReplicas(), Ready: rs.GetStatus().GetReadyReplicas(),
			Images: strings.Join(images, ","), Created: created(rs.GetMetadata().GetCreationTimestamp())}
		for _, o := range rs.GetMetadata().GetOwnerReferences() {
			if o.GetController() {
				row.Owner = strings.ToLower(o.GetKind()) + "/" + o.GetName()
			}
		}
		rows = append(rows, row)
	}
	sortRows(rows, func(r ReplicaSetRow) string { return r.Namespace + "/" + r.Name })
	writeJSON(w, http.StatusOK, map[string]any{"items": rows})
}
