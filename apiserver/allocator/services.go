package allocator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
)

// Write is the store write an allocation brackets: Services allocates,
// calls it, and keeps the allocation only if it succeeds.
type Write func(ctx context.Context) (scheme.Object, error)

// Services allocates the cluster IPs and node ports of Services around the
// store's create, update and delete:
//
//   - create: a Service without clusterIP gets one (none for clusterIP
//     "None" - headless - and for ExternalName); a requested clusterIP must
//     be in the range and free, and is reserved. NodePort and LoadBalancer
//     Services get a node port for every port that names none; requested
//     ones are reserved the same way.
//   - update: allocated values are kept (an update that omits them gets
//     the stored ones back); a type change allocates or releases node
//     ports and, to or from ExternalName, the cluster IP.
//   - delete: everything the Service held is released.
//
// A failed write releases what was allocated for it. If the apiserver dies
// between the allocation and the write, Repair frees the value later.
type Services struct {
	IPs   *IPRange
	Ports *PortRange
	// Get reads the stored Service (for updates).
	Get func(ctx context.Context, namespace, name string) (*corev1.Service, error)
	Log *slog.Logger
}

// NewServices returns the allocator over cli for the cluster IP range
// cidr and the node port range ports ("" for 30000-32767).
func NewServices(cli *clientv3.Client, cidr, ports string, get func(context.Context, string, string) (*corev1.Service, error)) (*Services, error) {
	if ports == "" {
		ports = DefaultNodePortRange
	}
	ips, err := NewIPRange(cli, cidr)
	if err != nil {
		return nil, err
	}
	pr, err := NewPortRange(cli, ports)
	if err != nil {
		return nil, err
	}
	return &Services{IPs: ips, Ports: pr, Get: get, Log: slog.Default().With("component", "service-allocator")}, nil
}

// tx records what one request allocated, to undo it if the write fails,
// and what it frees once the write succeeds.
type tx struct {
	s        *Services
	ips      []netip.Addr
	ports    []int
	freeIPs  []netip.Addr
	freePort []int
}

func (t *tx) rollback(ctx context.Context) {
	// The request's context may be done (that may be why the write
	// failed); the release must still happen.
	ctx = context.WithoutCancel(ctx)
	for _, ip := range t.ips {
		if err := t.s.IPs.ReleaseIP(ctx, ip); err != nil {
			t.s.Log.Error("release cluster IP after failed write; repair will free it", "ip", ip, "err", err)
		}
	}
	for _, p := range t.ports {
		if err := t.s.Ports.ReleasePort(ctx, p); err != nil {
			t.s.Log.Error("release node port after failed write; repair will free it", "port", p, "err", err)
		}
	}
}

func (t *tx) commit(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for _, ip := range t.freeIPs {
		if err := t.s.IPs.ReleaseIP(ctx, ip); err != nil {
			t.s.Log.Error("release cluster IP; repair will free it", "ip", ip, "err", err)
		}
	}
	for _, p := range t.freePort {
		if err := t.s.Ports.ReleasePort(ctx, p); err != nil {
			t.s.Log.Error("release node port; repair will free it", "port", p, "err", err)
		}
	}
}

func owner(ns string, svc *corev1.Service) Owner {
	return Owner{Kind: "Service", Namespace: ns, Name: svc.GetMetadata().GetName()}
}

func invalid(svc *corev1.Service, errs ...apierrors.FieldError) error {
	return apierrors.NewInvalid("Service", svc.GetMetadata().GetName(), errs)
}

// Create allocates for svc (in namespace ns), runs write, and returns its
// result; svc is changed in place to carry what was allocated.
func (s *Services) Create(ctx context.Context, ns string, svc *corev1.Service, write Write) (scheme.Object, error) {
	registry.For("services").Default(svc)
	t := &tx{s: s}
	if err := s.allocate(ctx, t, ns, svc, nil); err != nil {
		t.rollback(ctx)
		return nil, err
	}
	out, err := write(ctx)
	if err != nil {
		t.rollback(ctx)
		return nil, err
	}
	return out, nil
}

// Update keeps or changes svc's allocations against the stored Service,
// runs write, and releases what the new version no longer holds. An update
// without a resourceVersion is pinned to the version read here, and
// retried on a conflict, so the allocation is decided against the object
// the write replaces.
func (s *Services) Update(ctx context.Context, ns string, svc *corev1.Service, write func(ctx context.Context, svc *corev1.Service) (scheme.Object, error)) (scheme.Object, error) {
	unpinned := svc.GetMetadata().GetResourceVersion() == ""
	for attempt := 0; ; attempt++ {
		next := svc
		if unpinned {
			next = proto.Clone(svc).(*corev1.Service)
		}
		out, err := s.updateOnce(ctx, ns, next, write)
		if unpinned && apierrors.IsConflict(err) && attempt < 5 {
			continue
		}
		return out, err
	}
}

func (s *Services) updateOnce(ctx context.Context, ns string, svc *corev1.Service, write func(context.Context, *corev1.Service) (scheme.Object, error)) (scheme.Object, error) {
	if svc.GetMetadata().GetName() == "" {
		return write(ctx, svc) // the store reports the missing name
	}
	old, err := s.Get(ctx, ns, svc.Metadata.Name)
	if err != nil {
		return nil, err
	}
	if svc.Metadata.ResourceVersion == "" {
		svc.Metadata.ResourceVersion = old.GetMetadata().GetResourceVersion()
	}
	registry.For("services").Default(svc)
	t := &tx{s: s}
	if err := s.allocate(ctx, t, ns, svc, old); err != nil {
		t.rollback(ctx)
		return nil, err
	}
	out, err := write(ctx, svc)
	if err != nil {
		t.rollback(ctx)
		return nil, err
	}
	if res, ok := out.(*corev1.Service); ok && res.GetMetadata().GetDeletionTimestamp() != nil && len(res.GetMetadata().GetFinalizers()) == 0 {
		// The update removed the last finalizer: the store deleted it.
		s.release(ctx, res)
		return out, nil
	}
	t.commit(ctx)
	return out, nil
}

// Delete runs write (the store's delete) and releases what the Service
// held once it is gone; a Service only marked for deletion (it has
// finalizers) keeps its values until the update that removes the last one.
func (s *Services) Delete(ctx context.Context, write Write) (scheme.Object, error) {
	out, err := write(ctx)
	if err != nil {
		return nil, err
	}
	if svc, ok := out.(*corev1.Service); ok && len(svc.GetMetadata().GetFinalizers()) == 0 {
		s.release(ctx, svc)
	}
	return out, nil
}

// release frees everything svc holds.
func (s *Services) release(ctx context.Context, svc *corev1.Service) {
	t := &tx{s: s, freeIPs: clusterIPs(svc), freePort: nodePorts(svc)}
	t.commit(ctx)
}

// clusterIPs are the allocated cluster IPs of svc.
func clusterIPs(svc *corev1.Service) []netip.Addr {
	sp := svc.GetSpec()
	if sp.GetType() == "ExternalName" {
		return nil
	}
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, s := range append([]string{sp.GetClusterIP()}, sp.GetClusterIPs()...) {
		if a, err := netip.ParseAddr(s); err == nil && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// nodePorts are the node ports of svc, each once.
func nodePorts(svc *corev1.Service) []int {
	var out []int
	seen := map[int]bool{}
	for _, p := range svc.GetSpec().GetPorts() {
		if n := int(p.GetNodePort()); n != 0 && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func (s *Services) allocate(ctx context.Context, t *tx, ns string, svc, old *corev1.Service) error {
	if err := s.allocateClusterIP(ctx, t, ns, svc, old); err != nil {
		return err
	}
	return s.allocateNodePorts(ctx, t, ns, svc, old)
}

func (s *Services) allocateClusterIP(ctx context.Context, t *tx, ns string, svc, old *corev1.Service) error {
	sp := svc.Spec
	oldIPs := clusterIPs(old)
	if sp.Type == "ExternalName" {
		t.freeIPs = append(t.freeIPs, oldIPs...)
		return nil // validation refuses a clusterIP on an ExternalName
	}
	if sp.ClusterIP == "" && len(sp.ClusterIPs) > 0 {
		sp.ClusterIP = sp.ClusterIPs[0]
	}
	if old != nil && old.GetSpec().GetType() != "ExternalName" && sp.ClusterIP == "" {
		// An update that leaves the cluster IP out keeps the stored one.
		sp.ClusterIP = old.GetSpec().GetClusterIP()
		sp.ClusterIPs = append([]string(nil), old.GetSpec().GetClusterIPs()...)
	}
	switch {
	case sp.ClusterIP == "None":
		if len(sp.ClusterIPs) == 0 {
			sp.ClusterIPs = []string{"None"}
		}
		t.freeIPs = append(t.freeIPs, oldIPs...)
		return nil
	case sp.ClusterIP == "":
		ip, err := s.IPs.AllocateNextIP(ctx, owner(ns, svc))
		if errors.Is(err, ErrFull) {
			return apierrors.NewInternal(fmt.Errorf("failed to allocate a serviceIP: range %s is full", s.IPs.CIDR()))
		}
		if err != nil {
			return apierrors.NewUnavailable(fmt.Sprintf("failed to allocate a serviceIP: %v", err))
		}
		t.ips = append(t.ips, ip)
		sp.ClusterIP, sp.ClusterIPs = ip.String(), []string{ip.String()}
		t.freeIPs = append(t.freeIPs, oldIPs...)
		return nil
	}
	if len(sp.ClusterIPs) == 0 {
		sp.ClusterIPs = []string{sp.ClusterIP}
	}
	ip, err := netip.ParseAddr(sp.ClusterIP)
	if err != nil {
		return nil // not an IP: validation says so
	}
	for _, o := range oldIPs {
		if o == ip {
			return nil // kept
		}
	}
	if old != nil && old.GetSpec().GetType() != "ExternalName" && old.GetSpec().GetClusterIP() != "" {
		return nil // a changed cluster IP: ValidateUpdate refuses it
	}
	if len(sp.ClusterIPs) > 1 {
		return invalid(svc, apierrors.Invalid("spec.clusterIPs", sp.ClusterIPs, "only single-stack services are supported"))
	}
	switch err := s.IPs.AllocateIP(ctx, ip, owner(ns, svc)); {
	case errors.Is(err, ErrOutOfRange):
		return invalid(svc, apierrors.Invalid("spec.clusterIPs", sp.ClusterIP,
			"failed to allocate IP "+sp.ClusterIP+": the provided IP ("+sp.ClusterIP+") is not in the valid range. The range of valid IPs is "+s.IPs.CIDR().String()))
	case errors.Is(err, ErrAllocated):
		return invalid(svc, apierrors.Invalid("spec.clusterIPs", sp.ClusterIP,
			"failed to allocate IP "+sp.ClusterIP+": provided IP is already allocated"))
	case err != nil:
		return apierrors.NewUnavailable(fmt.Sprintf("failed to allocate IP %s: %v", sp.ClusterIP, err))
	}
	t.ips = append(t.ips, ip)
	t.freeIPs = append(t.freeIPs, oldIPs...)
	return nil
}

// needsNodePorts: NodePort services, and LoadBalancers unless they opt out.
func needsNodePorts(sp *corev1.ServiceSpec) bool {
	switch sp.GetType() {
	case "NodePort":
		return true
	case "LoadBalancer":
		return sp.AllocateLoadBalancerNodePorts == nil || *sp.AllocateLoadBalancerNodePorts
	}
	return false
}

func (s *Services) allocateNodePorts(ctx context.Context, t *tx, ns string, svc, old *corev1.Service) error {
	sp := svc.Spec
	held := map[int]bool{}
	for _, p := range nodePorts(old) {
		held[p] = true
	}
	need := needsNodePorts(sp)
	if !need && sp.Type != "LoadBalancer" && old != nil {
		// A NodePort service turned ClusterIP drops the node ports it
		// still carries from the stored version, as Kubernetes does.
		for _, p := range sp.Ports {
			if p.NodePort != 0 && held[int(p.NodePort)] {
				p.NodePort = 0
			}
		}
	}
	if need && old != nil {
		// An update that leaves a node port out keeps the stored one of
		// the same port (by name, else by port and protocol).
		for _, p := range sp.Ports {
			if p.NodePort == 0 {
				p.NodePort = matchingNodePort(old.GetSpec().GetPorts(), p)
			}
		}
	}
	mine := map[int]bool{} // node ports this version holds
	for i, p := range sp.Ports {
		n := int(p.NodePort)
		switch {
		case n == 0 && !need:
			continue
		case n == 0:
			port, err := s.Ports.AllocateNextPort(ctx, owner(ns, svc))
			if errors.Is(err, ErrFull) {
				return apierrors.NewInternal(fmt.Errorf("failed to allocate a nodePort: range %s is full", s.Ports))
			}
			if err != nil {
				return apierrors.NewUnavailable(fmt.Sprintf("failed to allocate a nodePort: %v", err))
			}
			t.ports = append(t.ports, port)
			p.NodePort = int32(port)
			mine[port] = true
			continue
		case mine[n] || held[n]:
			// The same port for another protocol of this service, or kept.
			mine[n] = true
			continue
		case n < 0 || n > 65535:
			continue // validation reports it
		}
		field := fmt.Sprintf("spec.ports[%d].nodePort", i)
		switch err := s.Ports.AllocatePort(ctx, n, owner(ns, svc)); {
		case errors.Is(err, ErrOutOfRange):
			return invalid(svc, apierrors.Invalid(field, n, "provided port is not in the valid range. The range of valid ports is "+s.Ports.String()))
		case errors.Is(err, ErrAllocated):
			return invalid(svc, apierrors.Invalid(field, n, "provided port is already allocated"))
		case err != nil:
			return apierrors.NewUnavailable(fmt.Sprintf("failed to allocate nodePort %d: %v", n, err))
		}
		t.ports = append(t.ports, n)
		mine[n] = true
	}
	for p := range held {
		if !mine[p] {
			t.freePort = append(t.freePort, p)
		}
	}
	return nil
}

func matchingNodePort(old []*corev1.ServicePort, p *corev1.ServicePort) int32 {
	for _, o := range old {
		if p.Name != "" && o.Name == p.Name {
			return o.NodePort
		}
	}
	for _, o := range old {
		if o.Port == p.Port && o.Protocol == p.Protocol {
			return o.NodePort
		}
	}
	return 0
}
