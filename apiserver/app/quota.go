package app

import (
	"context"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/admission"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
)

// ResourceQuotaAdmission is the ResourceQuota admission plugin over the
// apiserver's store: quotas are read from the watch cache (fresh reads
// wait until the cache has etcd's current revision) and charged through
// the store's status update, whose resourceVersion precondition is an
// etcd compare-and-swap shared by every apiserver.
//
// Because the registry defaults and validates after admission, a create
// is first checked as a dry run (and against the cache for its name), so
// that an object storage refuses costs no quota.
func ResourceQuotaAdmission(st *generic.Store) admission.Plugin {
	p := admission.NewResourceQuota(quotaStore{st}, nil)
	p.Precheck = func(ctx context.Context, a *admission.Attributes) error {
		if c := st.Cache(a.Kind); c != nil && a.Name != "" {
			if _, taken := c.Get(a.Namespace, a.Name); taken {
				return apierrors.NewAlreadyExists(a.Kind.GroupResource(), a.Name)
			}
		}
		_, err := st.Create(ctx, a.Kind, a.Namespace, proto.Clone(a.Object).(scheme.Object), rest.WriteOptions{DryRun: true})
		return err
	}
	return p
}

type quotaStore struct{ st *generic.Store }

func (s quotaStore) kind() *scheme.Kind {
	k, _ := scheme.ByResource("resourcequotas")
	return k
}

func (s quotaStore) List(ctx context.Context, ns string, fresh bool) ([]*corev1.ResourceQuota, error) {
	var o cache.ListOptions
	if fresh {
		rv, err := s.st.ConsistentRV(ctx)
		if err != nil {
			return nil, err
		}
		o.MinRV = rv
	}
	items, _, _, err := s.st.List(ctx, s.kind(), cache.Filter{Namespace: ns}, o)
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.ResourceQuota, len(items))
	for i, it := range items {
		out[i] = it.Object.(*corev1.ResourceQuota)
	}
	return out, nil
}

func (s quotaStore) UpdateStatus(ctx context.Context, q *corev1.ResourceQuota) (*corev1.ResourceQuota, error) {
	out, err := s.st.Update(ctx, s.kind(), q.GetMetadata().GetNamespace(), q, "status", rest.WriteOptions{})
	if err != nil {
		return nil, err
	}
	return out.(*corev1.ResourceQuota), nil
}
