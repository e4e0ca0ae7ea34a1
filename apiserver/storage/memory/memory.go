// Package memory is an in-process storage.Interface with etcd's semantics
// (one revision counter for every key, conditional writes on a key's mod
// revision, ordered watches from a revision, compaction), so the generic
// registry and the HTTP and gRPC fronts can be unit-tested without etcd.
// Values are stored encoded, as etcd stores them, so what the codec cannot
// round-trip fails here too.
package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/storage"
)

type value struct {
	data   []byte
	modRev int64
}

type event struct {
	key     string
	typ     storage.EventType
	data    []byte // the new value, or for a delete the last one
	rev     int64
	created bool
}

// Store is the in-memory storage. The zero value is not usable; use New.
type Store struct {
	mu       sync.Mutex
	rev      int64
	kv       map[string]value
	log      []event // every change after compacted, in revision order
	compact  int64   // revisions up to this one are gone from log
	changed  chan struct{}
	progress int64 // bumped by RequestProgress
}

var _ storage.Interface = (*Store)(nil)

// New returns an empty store at revision 1 (etcd's first revision).
func New() *Store {
	return &Store{rev: 1, kv: map[string]value{}, changed: make(chan struct{})}
}

// notifyLocked wakes every watcher.
func (s *Store) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Store) putLocked(key string, data []byte, created bool) int64 {
	s.rev++
	s.kv[key] = value{data: data, modRev: s.rev}
	s.log = append(s.log, event{key: key, typ: storage.Put, data: data, rev: s.rev, created: created})
	s.notifyLocked()
	return s.rev
}

// Create implements storage.Interface.
func (s *Store) Create(_ context.Context, k *scheme.Kind, obj scheme.Object) (scheme.Object, error) {
	md := scheme.Meta(obj)
	key := storage.Key(k, md.Namespace, md.Name)
	data, err := storage.Encode(obj)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.kv[key]; ok {
		return nil, apierrors.NewAlreadyExists(k.GroupResource(), md.Name)
	}
	return storage.Decode(k, data, s.putLocked(key, data, true))
}

// Get implements storage.Interface.
func (s *Store) Get(_ context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error) {
	s.mu.Lock()
	v, ok := s.kv[storage.Key(k, ns, name)]
	s.mu.Unlock()
	if !ok {
		return nil, apierrors.NewNotFound(k.GroupResource(), name)
	}
	return storage.Decode(k, v.data, v.modRev)
}

func conflict(k *scheme.Kind, name string) error {
	return apierrors.NewConflict(k.GroupResource(), name, "the object has been modified; please apply your changes to the latest version and try again")
}

// Update implements storage.Interface.
func (s *Store) Update(_ context.Context, k *scheme.Kind, obj scheme.Object) (scheme.Object, error) {
	md := scheme.Meta(obj)
	key := storage.Key(k, md.Namespace, md.Name)
	rv, err := storage.ParseRV(md.ResourceVersion)
	if err != nil {
		return nil, err
	}
	data, err := storage.Encode(obj)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.kv[key]
	switch {
	case !ok:
		return nil, apierrors.NewNotFound(k.GroupResource(), md.Name)
	case cur.modRev != rv:
		return nil, conflict(k, md.Name)
	}
	return storage.Decode(k, data, s.putLocked(key, data, false))
}

// Delete implements storage.Interface.
func (s *Store) Delete(_ context.Context, k *scheme.Kind, ns, name string, rv int64) (scheme.Object, error) {
	key := storage.Key(k, ns, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.kv[key]
	switch {
	case !ok:
		return nil, apierrors.NewNotFound(k.GroupResource(), name)
	case cur.modRev != rv:
		return nil, conflict(k, name)
	}
	delete(s.kv, key)
	s.rev++
	s.log = append(s.log, event{key: key, typ: storage.Deleted, data: cur.data, rev: s.rev})
	s.notifyLocked()
	return storage.Decode(k, cur.data, s.rev)
}

// List implements storage.Interface.
func (s *Store) List(_ context.Context, k *scheme.Kind, ns string) ([]scheme.Object, int64, error) {
	prefix := storage.KeyPrefix(k, ns)
	s.mu.Lock()
	type kv struct {
		key string
		v   value
	}
	var found []kv
	for key, v := range s.kv {
		if strings.HasPrefix(key, prefix) {
			found = append(found, kv{key, v})
		}
	}
	rev := s.rev
	s.mu.Unlock()
	// etcd returns keys in byte order.
	slices.SortFunc(found, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	out := make([]scheme.Object, 0, len(found))
	for _, f := range found {
		obj, err := storage.Decode(k, f.v.data, f.v.modRev)
		if err != nil {
			return nil, 0, apierrors.NewInternal(err)
		}
		out = append(out, obj)
	}
	return out, rev, nil
}

// CurrentRevision implements storage.Interface.
func (s *Store) CurrentRevision(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev, nil
}

// WatchContext implements storage.Interface; nothing needs sharing here.
func (s *Store) WatchContext(ctx context.Context) context.Context { return ctx }

// RequestProgress implements storage.Interface: every open watch reports
// the current revision.
func (s *Store) RequestProgress(context.Context) error {
	s.mu.Lock()
	s.progress++
	s.notifyLocked()
	s.mu.Unlock()
	return nil
}

// Compact forgets the history up to and including rev, as etcd's
// compaction does: a watch from an older revision fails with Expired.
func (s *Store) Compact(rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for i < len(s.log) && s.log[i].rev <= rev {
		i++
	}
	s.log = append([]event(nil), s.log[i:]...)
	if rev > s.compact {
		s.compact = rev
	}
}

// Watch implements storage.Interface.
func (s *Store) Watch(ctx context.Context, k *scheme.Kind, rev int64) (<-chan storage.RawEvent, <-chan error) {
	out := make(chan storage.RawEvent, 256)
	errc := make(chan error, 1)
	prefix := storage.KeyPrefix(k, "")
	// Read before returning: a RequestProgress made after Watch returns
	// must reach this watch, however late its goroutine starts.
	s.mu.Lock()
	seenProgress := s.progress
	s.mu.Unlock()
	go func() {
		defer close(out)
		next := rev // the last revision delivered
		for {
			s.mu.Lock()
			if next < s.compact {
				s.mu.Unlock()
				errc <- apierrors.NewExpired(fmt.Sprintf("too old resource version: %d (%d)", rev, s.compact))
				return
			}
			var batch []event
			for _, ev := range s.log {
				if ev.rev > next && strings.HasPrefix(ev.key, prefix) {
					batch = append(batch, ev)
				}
			}
			progress := s.progress != seenProgress
			seenProgress = s.progress
			cur, wake := s.rev, s.changed
			s.mu.Unlock()
			for _, ev := range batch {
				obj, err := storage.Decode(k, ev.data, ev.rev)
				if err != nil {
					errc <- err
					return
				}
				select {
				case out <- storage.RawEvent{Type: ev.typ, Object: obj, Revision: ev.rev, Created: ev.created}:
				case <-ctx.Done():
					return
				}
				next = ev.rev
			}
			if progress && len(batch) == 0 {
				select {
				case out <- storage.RawEvent{Type: storage.Progress, Revision: cur}:
				case <-ctx.Done():
					return
				}
			}
			if len(batch) == 0 {
				next = max(next, cur)
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errc
}
