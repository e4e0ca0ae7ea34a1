// Package endpoints is the Endpoints controller: for every Service with a
// selector it keeps an Endpoints object of the same name listing the
// selected pods' IPs - ready ones under addresses, the others under
// notReadyAddresses - with the node name and a reference to the pod, and
// the service's ports resolved against each pod (a named targetPort is
// looked up in the pod's container ports). Headless services are treated
// alike. A pod's readiness change rewrites the Endpoints at once.
package endpoints

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/controller"
)

// Component is the event source of this controller.
const Component = "endpoint-controller"

// HeadlessLabel marks the Endpoints of a headless service, as Kubernetes does.
const HeadlessLabel = "service.kubernetes.io/headless"

// Config wires a Controller.
type Config struct {
	Endpoints         controller.API[*corev1.Endpoints]
	ServiceInformer   *informer.Informer[*corev1.Service]
	PodInformer       *informer.Informer[*corev1.Pod]
	EndpointsInformer *informer.Informer[*corev1.Endpoints]
	Recorder          controller.EventRecorder
	Metrics           *controller.Metrics
}

// Controller maintains Endpoints.
type Controller struct {
	controller.Base
	api       controller.API[*corev1.Endpoints]
	services  *informer.Lister[*corev1.Service]
	pods      *informer.Lister[*corev1.Pod]
	endpoints *informer.Lister[*corev1.Endpoints]
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{Base: controller.NewBase("endpoint", cfg.Recorder, cfg.Metrics, nil), api: cfg.Endpoints}
	c.Sync = c.sync
	c.Log = slog.Default().With("controller", Component)
	c.services = controller.Lister(&c.Base, cfg.ServiceInformer)
	c.pods = controller.Lister(&c.Base, cfg.PodInformer)
	c.endpoints = controller.Lister(&c.Base, cfg.EndpointsInformer)
	c.Base.Synced = c.sweep
	enqueueSvc := func(s *corev1.Service) { c.Enqueue(s) }
	cfg.ServiceInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Service]{
		AddFunc: enqueueSvc, UpdateFunc: func(_, s *corev1.Service) { enqueueSvc(s) }, DeleteFunc: enqueueSvc,
	})
	cfg.PodInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc: func(p *corev1.Pod) { c.podChanged(nil, p) },
		UpdateFunc: func(old, cur *corev1.Pod) {
			if old.GetMetadata().GetResourceVersion() != cur.GetMetadata().GetResourceVersion() {
				c.podChanged(old, cur)
			}
		},
		DeleteFunc: func(p *corev1.Pod) { c.podChanged(nil, p) },
	})
	// Endpoints changed or deleted by someone else are put right.
	epChanged := func(ep *corev1.Endpoints) {
		if _, err := c.services.Get(ep.GetMetadata().GetNamespace(), ep.GetMetadata().GetName()); err == nil {
			c.Queue.Add(informer.KeyOf(ep))
		}
	}
	cfg.EndpointsInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Endpoints]{
		UpdateFunc: func(old, cur *corev1.Endpoints) {
			if old.GetMetadata().GetResourceVersion() != cur.GetMetadata().GetResourceVersion() {
				epChanged(cur)
			}
		},
		DeleteFunc: epChanged,
	})
	return c
}

// sweep queues the Endpoints whose service is gone (deleted while no
// controller ran).
func (c *Controller) sweep() {
	for _, ep := range c.endpoints.List(nil) {
		if _, err := c.services.Get(ep.GetMetadata().GetNamespace(), ep.GetMetadata().GetName()); apierrors.IsNotFound(err) {
			c.Enqueue(ep)
		}
	}
}

// podChanged enqueues the services selecting the pod before or after the change.
func (c *Controller) podChanged(old, cur *corev1.Pod) {
	ns := cur.GetMetadata().GetNamespace()
	for _, s := range c.services.ListNamespace(ns, nil) {
		sel := s.GetSpec().GetSelector()
		if len(sel) == 0 {
			continue
		}
		ls := labels.SelectorFromSet(sel)
		if ls.Matches(cur.GetMetadata().GetLabels()) || old != nil && ls.Matches(old.GetMetadata().GetLabels()) {
			c.Queue.Add(informer.KeyOf(s))
		}
	}
}

// sync makes the Endpoints of one service match its pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	svc, err := c.services.Get(ns, name)
	if apierrors.IsNotFound(err) {
		// The service is gone; so go its endpoints.
		if _, err := c.endpoints.Get(ns, name); apierrors.IsNotFound(err) {
			return nil
		}
		_, err := c.api.Delete(ctx, ns, name, nil)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if len(svc.GetSpec().GetSelector()) == 0 || svc.GetSpec().GetType() == "ExternalName" {
		return nil // endpoints of a service without selector are the user's
	}
	pods := c.pods.ListNamespace(ns, labels.SelectorFromSet(maps.Clone(svc.Spec.Selector)))
	subsets := Subsets(svc, pods)
	want := &corev1.Endpoints{
		ApiVersion: "v1", Kind: "Endpoints",
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns, Labels: endpointsLabels(svc)},
		Subsets:  subsets,
	}
	cur, err := c.endpoints.Get(ns, name)
	if apierrors.IsNotFound(err) {
		_, err := c.api.Create(ctx, want)
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("endpoints %s exist but are not in the cache yet", key) // retry after the watch catches up
		}
		if err != nil {
			if apierrors.IsForbidden(err) {
				return nil // namespace terminating
			}
			c.Recorder.Eventf(svc, controller.EventWarning, "FailedToCreateEndpoint", "Failed to create endpoint for service %s: %v", key, err)
			return fmt.Errorf("create endpoints %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if subsetsEqual(cur.GetSubsets(), subsets) && maps.Equal(cur.GetMetadata().GetLabels(), want.Metadata.Labels) {
		return nil
	}
	up := proto.Clone(cur).(*corev1.Endpoints)
	up.Subsets = subsets
	up.Metadata.Labels = want.Metadata.Labels
	if _, err := c.api.Update(ctx, up); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return fmt.Errorf("update endpoints %s: %w", key, err) // retry from the cache
		}
		c.Recorder.Eventf(svc, controller.EventWarning, "FailedToUpdateEndpoint", "Failed to update endpoint %s: %v", key, err)
		return fmt.Errorf("update endpoints %s: %w", key, err)
	}
	return nil
}

func endpointsLabels(svc *corev1.Service) map[string]string {
	l := maps.Clone(svc.GetMetadata().GetLabels())
	if svc.GetSpec().GetClusterIP() == "None" {
		if l == nil {
			l = map[string]string{}
		}
		l[HeadlessLabel] = ""
	}
	return l
}

// Subsets computes the endpoint subsets of svc over the pods its selector
// selected: pods without an IP, finished, or (unless the service publishes
// not-ready addresses) terminating are left out; each remaining pod is an
// address under the ports it resolves; addresses with the same ports share
// a subset. The result is sorted so that equal inputs give equal output.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) []*corev1.EndpointSubset {
	publishNotReady := svc.GetSpec().GetPublishNotReadyAddresses()
	type group struct {
		ports           []*corev1.EndpointPort
		ready, notReady []*corev1.EndpointAddress
	}
	groups := map[string]*group{}
	for _, p := range pods {
		ip := p.GetStatus().GetPodIP()
		if ip == "" || controller.IsPodTerminal(p) {
			continue
		}
		if p.GetMetadata().GetDeletionTimestamp() != nil && !publishNotReady {
			continue
		}
		addr := &corev1.EndpointAddress{
			Ip: ip,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.GetMetadata().GetNamespace(), Name: p.GetMetadata().GetName(),
				Uid: p.GetMetadata().GetUid()},
		}
		if n := p.GetSpec().GetNodeName(); n != "" {
			addr.NodeName = proto.String(n)
		}
		if h := p.GetSpec().GetHostname(); h != "" && p.GetSpec().GetSubdomain() == svc.GetMetadata().GetName() {
			addr.Hostname = h
		}
		var ports []*corev1.EndpointPort
		for _, sp := range svc.GetSpec().GetPorts() {
			n, ok := FindPort(p, sp)
			if !ok {
				continue
			}
			protocol := sp.GetProtocol()
			if protocol == "" {
				protocol = "TCP"
			}
			ports = append(ports, &corev1.EndpointPort{Name: sp.GetName(), Port: n, Protocol: protocol, AppProtocol: sp.AppProtocol})
		}
		if len(ports) == 0 {
			continue // nothing to reach this pod on (the API requires ports)
		}
		sort.Slice(ports, func(i, j int) bool {
			return ports[i].Name < ports[j].Name || ports[i].Name == ports[j].Name && ports[i].Port < ports[j].Port
		})
		k := portsKey(ports)
		g := groups[k]
		if g == nil {
			g = &group{ports: ports}
			groups[k] = g
		}
		if publishNotReady || controller.IsPodReady(p) {
			g.ready = append(g.ready, addr)
		} else {
			g.notReady = append(g.notReady, addr)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []*corev1.EndpointSubset
	for _, k := range keys {
		g := groups[k]
		sortAddrs(g.ready)
		sortAddrs(g.notReady)
		out = append(out, &corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports})
	}
	return out
}

func sortAddrs(a []*corev1.EndpointAddress) {
	sort.Slice(a, func(i, j int) bool {
		if a[i].Ip != a[j].Ip {
			return a[i].Ip < a[j].Ip
		}
		return a[i].GetTargetRef().GetName() < a[j].GetTargetRef().GetName()
	})
}

func portsKey(ports []*corev1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%d/%s", p.Name, p.Port, p.Protocol)
	}
	return strings.Join(parts, ",")
}

// FindPort resolves a service port's targetPort for a pod: a number is
// itself (0 means the service port), a name is looked up among the pod's
// container ports of the same protocol.
func FindPort(p *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	tp := sp.GetTargetPort()
	if tp == nil || tp.GetType() == 0 {
		if tp.GetIntVal() != 0 {
			return tp.GetIntVal(), true
		}
		return sp.GetPort(), true
	}
	protocol := sp.GetProtocol()
	if protocol == "" {
		protocol = "TCP"
	}
	for _, c := range p.GetSpec().GetContainers() {
		for _, cp := range c.GetPorts() {
			cpProto := cp.GetProtocol()
			if cpProto == "" {
				cpProto = "TCP"
			}
			if cp.GetName() == tp.GetStrVal() && cpProto == protocol {
				return cp.GetContainerPort(), true
			}
		}
	}
	return 0, false
}

func subsetsEqual(a, b []*corev1.EndpointSubset) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
