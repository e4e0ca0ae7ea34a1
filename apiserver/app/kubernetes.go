package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/allocator"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
)

// The kubernetes Service: every cluster has Service default/kubernetes on
// the first address of the service range, so pods find the API at
// $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (and, through
// kube-proxy, at 10.96.0.1:443). Its Endpoints list every live apiserver.
//
// Liveness: each apiserver renews a Lease in kube-system naming its
// advertised address; the endpoints hold the addresses whose lease is
// fresh, so a crashed apiserver drops out without anyone cleaning up after
// it, and one that stops cleanly removes itself at once.
const (
	kubernetesServiceName = "kubernetes"
	apiserverLeaseLabel   = "apiserver.minik8s.io/identity"
	apiserverLeaseTTL     = 30 * time.Second
	apiserverLeaseRenew   = 10 * time.Second
)

type kubernetesService struct {
	st       *generic.Store
	services *allocator.Services
	// ip and port are what this apiserver advertises.
	ip   string
	port int32
	// clusterIP is the first address of the service range.
	clusterIP string
	now       func() time.Time
}

func newKubernetesService(st *generic.Store, services *allocator.Services, o Options, port int) (*kubernetesService, error) {
	p, err := netip.ParsePrefix(o.ServiceClusterIPRange)
	if err != nil {
		return nil, err
	}
	ip := o.AdvertiseAddress
	if ip == "" {
		ip = defaultAdvertiseAddress(o.BindAddress)
	}
	return &kubernetesService{st: st, services: services, ip: ip, port: int32(port),
		clusterIP: p.Masked().Addr().Next().String(), now: time.Now}, nil
}

// defaultAdvertiseAddress is the bind address, or for a wildcard bind the
// first IPv4 address of an interface that is up and not loopback.
func defaultAdvertiseAddress(bind string) string {
	if a, err := netip.ParseAddr(bind); err == nil && !a.IsUnspecified() {
		return a.String()
	}
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

func (k *kubernetesService) endpoint() string {
	return net.JoinHostPort(k.ip, strconv.Itoa(int(k.port)))
}

// leaseName is a valid object name for this apiserver's endpoint.
func (k *kubernetesService) leaseName() string {
	r := strings.NewReplacer(".", "-", ":", "-", "[", "", "]", "")
	return "apiserver-" + r.Replace(k.endpoint())
}

// Run keeps the service, this apiserver's lease and the endpoints up to
// date until ctx ends, then takes this apiserver out.
// The caller has run the first sync already.
func (k *kubernetesService) Run(ctx context.Context) {
	t := time.NewTicker(apiserverLeaseRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			k.remove(sctx)
			cancel()
			return
		case <-t.C:
		}
		if err := k.sync(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("kubernetes service", "err", err)
		}
	}
}

func (k *kubernetesService) sync(ctx context.Context) error {
	if err := k.renewLease(ctx); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	if err := k.ensureService(ctx); err != nil {
		return fmt.Errorf("service default/kubernetes: %w", err)
	}
	if err := k.syncEndpoints(ctx); err != nil {
		return fmt.Errorf("endpoints default/kubernetes: %w", err)
	}
	return nil
}

func kind(resource string) *scheme.Kind {
	k, _ := scheme.ByResource(resource)
	return k
}

func (k *kubernetesService) renewLease(ctx context.Context) error {
	lk := kind("leases")
	now := timestamppb.New(k.now())
	obj, err := k.st.Get(ctx, lk, "kube-system", k.leaseName())
	if apierrors.IsNotFound(err) {
		_, err = k.st.Create(ctx, lk, "kube-system", &coordinationv1.Lease{
			Metadata: &metav1.ObjectMeta{Name: k.leaseName(), Namespace: "kube-system", Labels: map[string]string{apiserverLeaseLabel: "kube-apiserver"}},
			Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String(k.endpoint()),
				LeaseDurationSeconds: proto.Int32(int32(apiserverLeaseTTL / time.Second)), AcquireTime: now, RenewTime: now},
		}, rest.WriteOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l := proto.Clone(obj).(*coordinationv1.Lease)
	if l.Spec == nil {
		l.Spec = &coordinationv1.LeaseSpec{}
	}
	l.Spec.HolderIdentity = proto.String(k.endpoint())
	l.Spec.LeaseDurationSeconds = proto.Int32(int32(apiserverLeaseTTL / time.Second))
	l.Spec.RenewTime = now
	_, err = k.st.Update(ctx, lk, "kube-system", l, "", rest.WriteOptions{})
	return err
}

func (k *kubernetesService) ensureService(ctx context.Context) error {
	sk := kind("services")
	if _, err := k.st.Get(ctx, sk, "default", kubernetesServiceName); !apierrors.IsNotFound(err) {
		return err // present (nil), or a real failure
	}
	svc := &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: kubernetesServiceName, Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: &corev1.ServiceSpec{
			Type: "ClusterIP", ClusterIP: k.clusterIP, SessionAffinity: "None",
			Ports: []*corev1.ServicePort{{Name: "https", Port: 443, Protocol: "TCP",
				TargetPort: &metav1.IntOrString{IntVal: k.port}}},
		},
	}
	_, err := k.services.Create(ctx, "default", svc, func(ctx context.Context) (scheme.Object, error) {
		return k.st.Create(ctx, sk, "default", svc, rest.WriteOptions{})
	})
	if apierrors.IsAlreadyExists(err) {
		return nil // another apiserver made it first
	}
	return err
}

// liveEndpoints lists the endpoints of apiservers with a fresh lease.
func (k *kubernetesService) liveEndpoints(ctx context.Context) ([]string, error) {
	objs, _, err := k.st.Storage().List(ctx, kind("leases"), "kube-system")
	if err != nil {
		return nil, err
	}
	var live []string
	for _, obj := range objs {
		l := obj.(*coordinationv1.Lease)
		if l.GetMetadata().GetLabels()[apiserverLeaseLabel] == "" || l.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		renew := l.GetSpec().GetRenewTime().AsTime()
		ttl := time.Duration(l.GetSpec().GetLeaseDurationSeconds()) * time.Second
		if l.GetSpec().GetRenewTime() == nil || k.now().After(renew.Add(ttl)) {
			continue
		}
		live = append(live, l.GetSpec().GetHolderIdentity())
	}
	slices.Sort(live)
	return live, nil
}

// endpointSubsets groups apiserver endpoints by port, one subset each.
func endpointSubsets(endpoints []string) []*corev1.EndpointSubset {
	byPort := map[int32][]*corev1.EndpointAddress{}
	var ports []int32
	for _, ep := range endpoints {
		host, p, err := net.SplitHostPort(ep)
		n, perr := strconv.Atoi(p)
		if err != nil || perr != nil {
			continue
		}
		port := int32(n)
		if _, ok := byPort[port]; !ok {
			ports = append(ports, port)
		}
		byPort[port] = append(byPort[port], &corev1.EndpointAddress{Ip: host})
	}
	slices.Sort(ports)
	var subsets []*corev1.EndpointSubset
	for _, p := range ports {
		subsets = append(subsets, &corev1.EndpointSubset{Addresses: byPort[p],
			Ports: []*corev1.EndpointPort{{Name: "https", Port: p, Protocol: "TCP"}}})
	}
	return subsets
}

func (k *kubernetesService) syncEndpoints(ctx context.Context) error {
	live, err := k.liveEndpoints(ctx)
	if err != nil {
		return err
	}
	ek := kind("endpoints")
	want := endpointSubsets(live)
	obj, err := k.st.Get(ctx, ek, "default", kubernetesServiceName)
	if apierrors.IsNotFound(err) {
		if len(want) == 0 {
			return nil
		}
		_, err = k.st.Create(ctx, ek, "default", &corev1.Endpoints{
			Metadata: &metav1.ObjectMeta{Name: kubernetesServiceName, Namespace: "default"},
			Subsets:  want,
		}, rest.WriteOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // another apiserver wrote it; the next round compares
		}
		return err
	}
	if err != nil {
		return err
	}
	ep := proto.Clone(obj).(*corev1.Endpoints)
	if subsetsEqual(ep.Subsets, want) {
		return nil
	}
	ep.Subsets = want
	_, err = k.st.Update(ctx, ek, "default", ep, "", rest.WriteOptions{})
	if apierrors.IsConflict(err) {
		return nil // a peer updated it; the next round compares again
	}
	return err
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

// remove takes this apiserver out of the endpoints when it stops cleanly.
func (k *kubernetesService) remove(ctx context.Context) {
	if _, err := k.st.Delete(ctx, kind("leases"), "kube-system", k.leaseName(), nil, rest.WriteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		slog.Warn("kubernetes service: delete lease", "err", err)
		return
	}
	if err := k.syncEndpoints(ctx); err != nil {
		slog.Warn("kubernetes service: endpoints", "err", err)
	}
}
