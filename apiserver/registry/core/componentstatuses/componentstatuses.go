// Package componentstatuses serves componentstatuses, which are probed on
// every read (scheduler, controller-manager, each etcd member), not stored.
package componentstatuses

import (
	"context"

	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/componentstatus"
	"minik8s/apiserver/registry/rest"
)

// Storage answers get and list from the prober.
type Storage struct {
	Prober *componentstatus.Prober
}

var (
	_ rest.Getter = (*Storage)(nil)
	_ rest.Lister = (*Storage)(nil)
)

// Kind implements rest.Storage.
func (s *Storage) Kind() *scheme.Kind {
	k, _ := scheme.ByResource("componentstatuses")
	return k
}

// Get implements rest.Getter.
func (s *Storage) Get(ctx context.Context, _, name string) (scheme.Object, error) {
	cs, err := s.Prober.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// List implements rest.Lister; selectors and paging do not apply.
func (s *Storage) List(ctx context.Context, _ string, _ rest.ListOptions) (*rest.ListResult, error) {
	res := &rest.ListResult{}
	for _, cs := range s.Prober.List(ctx) {
		res.Items = append(res.Items, cache.NewItem(cs))
	}
	return res, nil
}
