package admission

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/quota"
	"minik8s/api/scheme"
)

// QuotaStore reads and charges the ResourceQuotas of a namespace; the
// apiserver passes one over its store, tests a fake.
type QuotaStore interface {
	// List returns the quotas of namespace ns. A list that is not fresh
	// may lag behind the latest writes (a watch cache); a fresh one
	// reflects every write acknowledged before the call.
	List(ctx context.Context, ns string, fresh bool) ([]*corev1.ResourceQuota, error)
	// UpdateStatus writes q's status if q's resourceVersion is still the
	// stored one, and fails with a Conflict otherwise: the
	// compare-and-swap that makes charging atomic.
	UpdateStatus(ctx context.Context, q *corev1.ResourceQuota) (*corev1.ResourceQuota, error)
}

// DefaultQuotaRetries is how often ResourceQuota re-evaluates a request
// against fresh quotas after losing a compare-and-swap to another writer.
const DefaultQuotaRetries = 10

// ResourceQuota is Kubernetes' ResourceQuota admission plugin. For a
// create (or an update that can change usage: a service's type) of an
// object whose kind quotas measure (api/quota), it finds the namespace's
// quotas that apply to the object, refuses the request when a quota
// demands something of the object it lacks ("failed quota: NAME: must
// specify cpu for: app") or when the usage it adds would pass a hard
// limit ("exceeded quota: NAME, requested: pods=1, used: pods=10,
// limited: pods=10"), and otherwise charges it: it adds the usage to
// each quota's status.used with a compare-and-swap on the quota's
// resourceVersion. A lost swap (another request or apiserver charged
// the quota meanwhile) re-reads the quotas and evaluates again, so
// concurrent creates across any number of apiservers never pass a limit.
// Within one apiserver the requests of a namespace are charged one at a
// time, so that they do not fight over the same quota's version.
//
// As in Kubernetes, a quota limits only what its status.hard names: a
// new quota constrains nothing until the resource-quota controller has
// copied spec.hard to status.hard and computed status.used (the objects
// created meanwhile are in that count). A limited name missing from
// status.used refuses the request ("status unknown for quota"). Quotas
// are read from the apiserver's cache; while one's status.hard differs
// from its spec.hard (the controller has not caught up, or the cache has
// not) they are read fresh, so a cache that lags behind the controller's
// write does not let requests through unlimited. A quota the cache does
// not hold yet at all is not enforced until it does (milliseconds).
//
// Dry-run requests are evaluated, and refused where a real one would
// be, but charge nothing; nor do creates Precheck says storage refuses. Deletes are never charged or refunded here:
// the controller releases usage when it recounts. A request charged but
// then refused by storage leaves the quota over-charged until then, as
// in Kubernetes.
type ResourceQuota struct {
	// Precheck, if set, reports whether storage would refuse a create
	// (validation, a name taken): such a request is let through
	// uncharged, to fail in storage, since here the registry validates
	// after admission. Nil charges every admitted create.
	Precheck func(ctx context.Context, a *Attributes) error

	quotas  QuotaStore
	now     func() time.Time
	retries int

	mu     sync.Mutex
	locks  map[string]*nsLock
	latest map[string]*corev1.ResourceQuota // ns/name -> the status this plugin last wrote
}

type nsLock struct {
	sync.Mutex
	users int
}

// NewResourceQuota returns the plugin over quotas; a nil now is time.Now.
func NewResourceQuota(quotas QuotaStore, now func() time.Time) *ResourceQuota {
	if now == nil {
		now = time.Now
	}
	return &ResourceQuota{quotas: quotas, now: now, retries: DefaultQuotaRetries,
		locks: map[string]*nsLock{}, latest: map[string]*corev1.ResourceQuota{}}
}

// Name is the plugin name as Kubernetes spells it.
func (*ResourceQuota) Name() string { return "ResourceQuota" }

// Validate implements Validator.
func (p *ResourceQuota) Validate(ctx context.Context, a *Attributes) error {
	if a.Namespace == "" || a.Object == nil || (a.Operation != Create && a.Operation != Update) {
		return nil
	}
	ev := quota.For(a.Kind)
	if ev == nil || !ev.Handles(a.Operation, a.Subresource) {
		return nil
	}
	unlock := p.lock(a.Namespace)
	defer unlock()

	var pending map[string]bool // quotas still to charge after a lost swap; nil: all
	var old scheme.Object
	oldRead := false
	for attempt := 0; ; attempt++ {
		quotas, err := p.list(ctx, a.Namespace, attempt > 0)
		if err == nil && attempt == 0 && unsettled(quotas) {
			// A quota whose status does not enforce its spec yet may be
			// a cached version older than the controller's write; only
			// a fresh one tells whether it already limits this request.
			quotas, err = p.list(ctx, a.Namespace, true)
		}
		if err != nil {
			return apierrors.NewInternal(fmt.Errorf("list resource quotas of %s: %w", a.Namespace, err))
		}
		if pending != nil {
			quotas = slicesFilter(quotas, func(q *corev1.ResourceQuota) bool { return pending[q.GetMetadata().GetName()] })
		}
		if len(quotas) == 0 {
			return nil
		}
		if a.Operation == Update && !oldRead && a.OldObject != nil {
			oldRead = true
			if old, err = a.OldObject(ctx); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		charged, err := Charge(quotas, a, ev, old, p.now())
		if err != nil || a.DryRun || len(charged) == 0 {
			return err
		}
		if attempt == 0 && a.Operation == Create && p.Precheck != nil && p.Precheck(ctx, a) != nil {
			return nil // storage refuses it with its own error; nothing to charge
		}
		pending = map[string]bool{}
		var conflict error
		for _, q := range charged {
			out, err := p.quotas.UpdateStatus(ctx, q)
			switch {
			case err == nil:
				p.remember(out)
			case apierrors.IsConflict(err):
				pending[q.GetMetadata().GetName()] = true
				conflict = err
			case apierrors.IsNotFound(err):
				// deleted meanwhile: nothing to charge
			default:
				return err
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if attempt >= p.retries {
			return conflict
		}
	}
}

// Charge evaluates one write against quotas: it returns copies of the
// quotas whose status.used the write changes, with the new usage, or the
// refusal. old is the stored object of an Update (nil if unknown), which
// is charged only for what it grows. It changes nothing it is given.
func Charge(quotas []*corev1.ResourceQuota, a *Attributes, ev quota.Evaluator, old scheme.Object, now time.Time) ([]*corev1.ResourceQuota, error) {
	name := objectName(a.Object)
	if name == "" {
		name = a.Name
	}
	forbidden := func(format string, args ...any) error {
		return apierrors.NewForbidden(a.Kind.GroupResource(), name, fmt.Sprintf(format, args...))
	}
	var matched []*corev1.ResourceQuota
	for _, q := range quotas {
		hard := q.GetStatus().GetHard()
		if !quota.Matches(ev, hard, quota.ScopeSelectors(q), a.Object) {
			continue
		}
		limited := ev.MatchingResources(quota.Names(hard))
		if err := ev.Constraints(limited, a.Object); err != nil {
			return nil, forbidden("failed quota: %s: %v", q.GetMetadata().GetName(), err)
		}
		for _, r := range limited {
			if _, ok := q.GetStatus().GetUsed()[r]; !ok {
				return nil, forbidden("status unknown for quota: %s, resources: %s", q.GetMetadata().GetName(), quota.FormatNames(limited))
			}
		}
		matched = append(matched, q)
	}
	if len(matched) == 0 {
		return nil, nil
	}
	usage := ev.Usage(a.Object, now)
	if neg := quota.Negative(usage); len(neg) > 0 {
		return nil, forbidden("quota usage is negative for resource(s): %s", quota.FormatNames(neg))
	}
	var out []*corev1.ResourceQuota
	for _, q := range matched {
		delta := usage
		if a.Operation == Update && old != nil && old.GetMetadata().GetResourceVersion() != "" &&
			quota.Matches(ev, q.GetStatus().GetHard(), quota.ScopeSelectors(q), old) {
			delta = quota.SubtractNonNegative(usage, ev.Usage(old, now))
		}
		hard := q.GetStatus().GetHard()
		requested := quota.Mask(quota.RemoveZeros(delta), quota.Names(hard))
		if len(requested) == 0 {
			continue
		}
		used := q.GetStatus().GetUsed()
		next := quota.Add(used, requested)
		if a.Subresource != "status" {
			if ok, exceeded := quota.LessThanOrEqual(quota.Mask(next, quota.Names(requested)), hard); !ok {
				return nil, forbidden("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.GetMetadata().GetName(),
					quota.Format(quota.Mask(requested, exceeded)), quota.Format(quota.Mask(used, exceeded)), quota.Format(quota.Mask(hard, exceeded)))
			}
		}
		c := proto.Clone(q).(*corev1.ResourceQuota)
		c.Status.Used = next
		out = append(out, c)
	}
	return out, nil
}

// unsettled reports whether a quota's status.hard differs from its
// spec.hard: just created, just changed, or seen through a lagging cache.
func unsettled(quotas []*corev1.ResourceQuota) bool {
	for _, q := range quotas {
		if !quota.Equals(q.GetSpec().GetHard(), q.GetStatus().GetHard()) {
			return true
		}
	}
	return false
}

// lock serializes the charges of one namespace in this apiserver.
func (p *ResourceQuota) lock(ns string) (unlock func()) {
	p.mu.Lock()
	l := p.locks[ns]
	if l == nil {
		l = &nsLock{}
		p.locks[ns] = l
	}
	l.users++
	p.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		p.mu.Lock()
		if l.users--; l.users == 0 {
			delete(p.locks, ns)
		}
		p.mu.Unlock()
	}
}

// list reads the quotas of ns. A cached list may not show this plugin's
// own last charge yet; the version it wrote replaces an older cached one,
// so consecutive charges do not lose a swap to a lagging cache.
func (p *ResourceQuota) list(ctx context.Context, ns string, fresh bool) ([]*corev1.ResourceQuota, error) {
	qs, err := p.quotas.List(ctx, ns, fresh)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.ResourceQuota, len(qs))
	listed := make(map[string]bool, len(qs))
	for i, q := range qs {
		out[i] = q
		md := q.GetMetadata()
		key := md.GetNamespace() + "/" + md.GetName()
		listed[key] = true
		mine, ok := p.latest[key]
		switch {
		case !ok:
		case mine.GetMetadata().GetUid() == md.GetUid() && rv(mine) > rv(q):
			out[i] = mine
		default:
			delete(p.latest, key) // the cache caught up, or the quota was replaced
		}
	}
	// A quota this plugin wrote was in the list before (caches only move
	// forward): missing now, it was deleted.
	for key, q := range p.latest {
		if q.GetMetadata().GetNamespace() == ns && !listed[key] {
			delete(p.latest, key)
		}
	}
	return out, nil
}

func (p *ResourceQuota) remember(q *corev1.ResourceQuota) {
	md := q.GetMetadata()
	p.mu.Lock()
	p.latest[md.GetNamespace()+"/"+md.GetName()] = q
	p.mu.Unlock()
}

func rv(q *corev1.ResourceQuota) int64 {
	var n int64
	fmt.Sscan(q.GetMetadata().GetResourceVersion(), &n)
	return n
}

func slicesFilter[T any](in []T, keep func(T) bool) []T {
	var out []T
	for _, x := range in {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}
