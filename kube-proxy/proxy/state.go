package proxy

import (
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
)

// NamespacedName names a Service or its Endpoints.
type NamespacedName struct{ Namespace, Name string }

func nameOf(md interface {
	GetNamespace() string
	GetName() string
}) NamespacedName {
	return NamespacedName{Namespace: md.GetNamespace(), Name: md.GetName()}
}

// State is a proxier's view of Services and Endpoints. Informer handlers
// only record the latest object of what changed (cheap, from any
// goroutine) and call notify; the proxier's sync calls Apply, which folds
// the recorded objects into the maps and returns which service ports
// changed. The maps belong to the goroutine calling Apply.
type State struct {
	hostname string
	notify   func()
	now      func() time.Time

	mu           sync.Mutex
	svcPending   map[NamespacedName]*corev1.Service   // nil: deleted
	epPending    map[NamespacedName]*corev1.Endpoints // nil: deleted
	pendingSince time.Time

	services  ServicePortMap
	endpoints EndpointsMap
	svcPorts  map[NamespacedName][]ServicePortName
	epPorts   map[NamespacedName][]ServicePortName
}

// NewState returns an empty state for the node hostname; notify (may be
// nil) is called after every recorded change, to ask for a sync.
func NewState(hostname string, notify func()) *State {
	return &State{
		hostname: hostname, notify: notify, now: time.Now,
		svcPending: map[NamespacedName]*corev1.Service{}, epPending: map[NamespacedName]*corev1.Endpoints{},
		services: ServicePortMap{}, endpoints: EndpointsMap{},
		svcPorts: map[NamespacedName][]ServicePortName{}, epPorts: map[NamespacedName][]ServicePortName{},
	}
}

func (s *State) recorded() {
	if s.pendingSince.IsZero() {
		s.pendingSince = s.now()
	}
}

// UpdateService records svc's latest version (nil cur: deleted). Calls
// with an unchanged object (an informer resync) are ignored.
func (s *State) UpdateService(prev, cur *corev1.Service) {
	if prev != nil && cur != nil && (prev == cur || prev.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion()) {
		return
	}
	obj := cur
	if obj == nil {
		obj = prev
	}
	s.mu.Lock()
	s.svcPending[nameOf(obj.GetMetadata())] = cur
	s.recorded()
	s.mu.Unlock()
	if s.notify != nil {
		s.notify()
	}
}

// UpdateEndpoints records eps's latest version (nil cur: deleted).
func (s *State) UpdateEndpoints(prev, cur *corev1.Endpoints) {
	if prev != nil && cur != nil && (prev == cur || prev.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion()) {
		return
	}
	obj := cur
	if obj == nil {
		obj = prev
	}
	s.mu.Lock()
	s.epPending[nameOf(obj.GetMetadata())] = cur
	s.recorded()
	s.mu.Unlock()
	if s.notify != nil {
		s.notify()
	}
}

// ServiceHandler feeds s from a Service informer.
func (s *State) ServiceHandler() informer.Handler[*corev1.Service] {
	return informer.HandlerFuncs[*corev1.Service]{
		AddFunc:    func(obj *corev1.Service) { s.UpdateService(nil, obj) },
		UpdateFunc: func(old, cur *corev1.Service) { s.UpdateService(old, cur) },
		DeleteFunc: func(obj *corev1.Service) { s.UpdateService(obj, nil) },
	}
}

// EndpointsHandler feeds s from an Endpoints informer.
func (s *State) EndpointsHandler() informer.Handler[*corev1.Endpoints] {
	return informer.HandlerFuncs[*corev1.Endpoints]{
		AddFunc:    func(obj *corev1.Endpoints) { s.UpdateEndpoints(nil, obj) },
		UpdateFunc: func(old, cur *corev1.Endpoints) { s.UpdateEndpoints(old, cur) },
		DeleteFunc: func(obj *corev1.Endpoints) { s.UpdateEndpoints(obj, nil) },
	}
}

// PendingSince is when the oldest change not yet applied was recorded
// (zero when there is none).
func (s *State) PendingSince() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingSince
}

// Services is the current service port map. Only the goroutine calling
// Apply may read it; never modify it.
func (s *State) Services() ServicePortMap { return s.services }

// Endpoints is the current endpoints map, under the same rules.
func (s *State) Endpoints() EndpointsMap { return s.endpoints }

// StaleEndpoint is a UDP endpoint removed from a service port: conntrack
// entries still sending the port's traffic to it must go, or clients keep
// talking to a backend that is gone (UDP has no connection to break).
type StaleEndpoint struct {
	Port     *ServicePort
	Endpoint Endpoint
}

// Changes is what one Apply found.
type Changes struct {
	// Ports whose ServicePort or endpoints differ from the last Apply.
	Ports map[ServicePortName]bool
	// StaleEndpoints are UDP endpoints removed from service ports.
	StaleEndpoints []StaleEndpoint
	// NewlyServed are UDP service ports that had no endpoints and now
	// have some: entries from when packets were rejected must go.
	NewlyServed []*ServicePort
	// Since is when the oldest applied change was recorded (zero if none).
	Since time.Time
}

// Apply folds the recorded changes into the maps.
func (s *State) Apply() Changes {
	s.mu.Lock()
	svcs, eps, since := s.svcPending, s.epPending, s.pendingSince
	s.svcPending, s.epPending, s.pendingSince = map[NamespacedName]*corev1.Service{}, map[NamespacedName]*corev1.Endpoints{}, time.Time{}
	s.mu.Unlock()

	ch := Changes{Ports: map[ServicePortName]bool{}, Since: since}
	// Endpoint counts before this Apply, of every port touched.
	before := map[ServicePortName]int{}
	touch := func(n ServicePortName) {
		if _, ok := before[n]; !ok {
			before[n] = len(s.endpoints[n])
		}
		ch.Ports[n] = true
	}
	for name, svc := range svcs {
		var ports []*ServicePort
		if svc != nil {
			ports = ServicePorts(svc)
		}
		keep := map[ServicePortName]bool{}
		names := make([]ServicePortName, 0, len(ports))
		for _, p := range ports {
			keep[p.Name] = true
			names = append(names, p.Name)
			if !p.Equal(s.services[p.Name]) {
				touch(p.Name)
				s.services[p.Name] = p
			}
		}
		for _, old := range s.svcPorts[name] {
			if !keep[old] {
				touch(old)
				s.stale(&ch, old, s.endpoints[old], nil) // the service is gone, its UDP flows too
				delete(s.services, old)
			}
		}
		if len(names) == 0 {
			delete(s.svcPorts, name)
		} else {
			s.svcPorts[name] = names
		}
	}
	for name, e := range eps {
		var byPort EndpointsMap
		if e != nil {
			byPort = EndpointsByPort(e, s.hostname)
		}
		names := make([]ServicePortName, 0, len(byPort))
		for pn, list := range byPort {
			names = append(names, pn)
			old := s.endpoints[pn]
			if !endpointsEqual(old, list) {
				touch(pn)
				s.stale(&ch, pn, old, list)
				s.endpoints[pn] = list
			}
		}
		for _, pn := range s.epPorts[name] {
			if _, ok := byPort[pn]; !ok {
				touch(pn)
				s.stale(&ch, pn, s.endpoints[pn], nil)
				delete(s.endpoints, pn)
			}
		}
		if len(names) == 0 {
			delete(s.epPorts, name)
		} else {
			s.epPorts[name] = names
		}
	}
	for pn := range ch.Ports {
		if sp := s.services[pn]; sp != nil && sp.Protocol == "UDP" && before[pn] == 0 && len(s.endpoints[pn]) > 0 {
			ch.NewlyServed = append(ch.NewlyServed, sp)
		}
	}
	return ch
}

// stale records the UDP endpoints in old but not in cur.
func (s *State) stale(ch *Changes, pn ServicePortName, old, cur []Endpoint) {
	sp := s.services[pn]
	if pn.Protocol != "UDP" || sp == nil {
		return
	}
	keep := make(map[Endpoint]bool, len(cur))
	for _, e := range cur {
		keep[e] = true
	}
	for _, e := range old {
		if !keep[e] {
			ch.StaleEndpoints = append(ch.StaleEndpoints, StaleEndpoint{Port: sp, Endpoint: e})
		}
	}
}
