package allocator

import (
	"context"
	"fmt"
	"time"

	corev1 "minik8s/api/core/v1"
)

// Repairer reconciles the allocation maps with the stored Services, as
// Kubernetes' repair controllers do:
//
//   - a value a Service uses but no key records (written before the
//     allocator existed, or restored from a backup) gets its key back;
//   - a key no Service uses is freed - but only when a previous pass saw
//     the same key, unchanged, unused too. A create allocates before it
//     writes the Service, so a key without a Service may be a create in
//     flight; two passes apart it is a leak (an apiserver died between the
//     two writes, or a release failed).
//
// Several apiservers may each run one: every fix is a transaction on the
// key's mod revision, so they never undo each other's work.
type Repairer struct {
	Services *Services
	// List reads every stored Service from etcd (not a cache: a cache a
	// little behind would make a fresh Service's values look leaked).
	List func(ctx context.Context) ([]*corev1.Service, error)

	suspects map[string]int64 // key -> mod revision seen unused last pass
}

// RepairResult counts what one pass did.
type RepairResult struct {
	Restored, Freed, Suspected int
}

// RunOnce makes one pass over both maps.
func (r *Repairer) RunOnce(ctx context.Context) (RepairResult, error) {
	var res RepairResult
	svcs, err := r.List(ctx)
	if err != nil {
		return res, fmt.Errorf("list services for repair: %w", err)
	}
	wantIPs := map[int]*corev1.Service{}
	wantPorts := map[int]*corev1.Service{}
	for _, svc := range svcs {
		for _, ip := range clusterIPs(svc) {
			if i, ok := r.Services.IPs.Index(ip); ok {
				if other := wantIPs[i]; other != nil {
					r.Services.Log.Error("two services hold one cluster IP", "ip", ip,
						"service", svc.Metadata.Namespace+"/"+svc.Metadata.Name, "other", other.Metadata.Namespace+"/"+other.Metadata.Name)
				}
				wantIPs[i] = svc
			}
		}
		for _, p := range nodePorts(svc) {
			if r.Services.Ports.Contains(p) {
				wantPorts[p-r.Services.Ports.Base] = svc
			}
		}
	}
	next := map[string]int64{}
	for _, m := range []struct {
		rng  *Range
		want map[int]*corev1.Service
	}{{r.Services.IPs.Range, wantIPs}, {r.Services.Ports.Range, wantPorts}} {
		used, err := m.rng.Used(ctx)
		if err != nil {
			return res, err
		}
		for i, svc := range m.want {
			if _, ok := used[i]; ok {
				continue
			}
			switch err := m.rng.Allocate(ctx, i, Owner{Kind: "Service", Namespace: svc.Metadata.Namespace, Name: svc.Metadata.Name}); err {
			case nil:
				res.Restored++
				r.Services.Log.Warn("repair: recorded a value a service held without a key", "key", m.rng.Key(i))
			case ErrAllocated: // written meanwhile
			default:
				return res, err
			}
		}
		for i, rev := range used {
			if m.want[i] != nil {
				continue
			}
			key := m.rng.Key(i)
			if r.suspects[key] != rev {
				next[key] = rev
				res.Suspected++
				continue
			}
			freed, err := m.rng.releaseAt(ctx, i, rev)
			if err != nil {
				return res, err
			}
			if freed {
				res.Freed++
				r.Services.Log.Warn("repair: freed a value no service holds", "key", key)
			}
		}
	}
	r.suspects = next
	return res, nil
}

// Run repairs every interval until ctx ends, the first pass at once.
func (r *Repairer) Run(ctx context.Context, interval time.Duration) {
	for {
		if res, err := r.RunOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.Services.Log.Error("service allocation repair failed", "err", err)
		} else if res.Restored+res.Freed > 0 {
			r.Services.Log.Info("service allocation repair", "restored", res.Restored, "freed", res.Freed, "suspected", res.Suspected)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
