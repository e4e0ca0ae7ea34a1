// Package generic is the generic registry every kind goes through: it turns
// create/update/delete requests into etcd transactions, applying what all
// kinds share (names, uid, timestamps, generation, the status subresource,
// graceful deletion and finalizers) and the kind's own Strategy (defaults,
// validation, immutable fields). Lists and watches are served from the
// per-kind watch cache; gets read etcd.
package generic

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/patch"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/storage"
	"minik8s/apiserver/validation"
)

// Store serves every registered kind over one storage.Interface.
type Store struct {
	etcd   storage.Interface
	caches map[string]*cache.Cache
	now    func() time.Time
}

// New builds a store with one watch cache per kind; Run starts them.
func New(st storage.Interface, opts cache.Options) *Store {
	s := &Store{etcd: st, caches: map[string]*cache.Cache{}, now: time.Now}
	for _, k := range scheme.All() {
		s.caches[k.Resource] = cache.New(k, st, opts)
	}
	return s
}

// Storage returns the storage layer.
func (s *Store) Storage() storage.Interface { return s.etcd }

// Run starts every watch cache and blocks until ctx ends.
func (s *Store) Run(ctx context.Context) {
	done := make(chan struct{})
	for _, c := range s.caches {
		go func(c *cache.Cache) {
			c.Run(ctx)
			done <- struct{}{}
		}(c)
	}
	for range s.caches {
		<-done
	}
}

// Cache returns the watch cache of a kind.
func (s *Store) Cache(k *scheme.Kind) *cache.Cache { return s.caches[k.Resource] }

// WaitReady blocks until every cache has its first list or ctx ends.
func (s *Store) WaitReady(ctx context.Context) error {
	for _, c := range s.caches {
		if _, _, _, err := c.List(ctx, cache.Filter{Match: func(scheme.Object) bool { return false }}, cache.ListOptions{}); err != nil {
			return err
		}
	}
	return nil
}

const nameChars = "bcdfghjklmnpqrstvwxz2456789"

func randomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = nameChars[int(b[i])%len(nameChars)]
	}
	return string(b)
}

func invalid(k *scheme.Kind, name string, errs []apierrors.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(k.Kind, name, errs)
}

func (s *Store) validate(k *scheme.Kind, obj scheme.Object) []apierrors.FieldError {
	md := obj.GetMetadata()
	errs := validation.ValidateObjectMeta(md, k.Namespaced, validation.NameRule(k.Resource), "metadata")
	errs = append(errs, validation.ValidateEncodable(obj)...)
	return append(errs, registry.For(k.Resource).Validate(obj)...)
}

// Create stores a new object. ns is the request's namespace; an object
// naming another namespace is refused. With o.DryRun the object is
// checked and returned as it would be stored, and nothing is written.
func (s *Store) Create(ctx context.Context, k *scheme.Kind, ns string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	if err := checkType(k, obj); err != nil {
		return nil, err
	}
	md := scheme.Meta(obj)
	if err := setNamespace(k, ns, md); err != nil {
		return nil, err
	}
	scheme.SetTypeMeta(obj, k)
	md.Uid = uuid.NewString()
	md.CreationTimestamp = timestamppb.New(s.now().Truncate(time.Second))
	md.ResourceVersion = ""
	md.DeletionTimestamp = nil
	md.DeletionGracePeriodSeconds = nil
	md.Generation = 1
	md.SelfLink = ""
	if p, ok := registry.For(k.Resource).(registry.CreatePreparer); ok {
		p.PrepareForCreate(ctx, obj)
	}
	registry.For(k.Resource).Default(obj)
	generated := md.Name == "" && md.GenerateName != ""
	if generated {
		md.Name = md.GenerateName + randomSuffix()
	}
	// Kubernetes records the creator in managedFields, defaulted fields
	// included, so a later server-side apply by another manager
	// conflicts only where it sets a different value.
	obj, err := patch.TrackObject(k, "", nil, obj, o.FieldManager, s.now())
	if err != nil {
		return nil, err
	}
	md = scheme.Meta(obj)
	if err := invalid(k, md.Name, s.validate(k, obj)); err != nil {
		return nil, err
	}
	if o.DryRun {
		return obj, nil
	}
	for attempt := 0; ; attempt++ {
		out, err := s.etcd.Create(ctx, k, obj)
		if generated && apierrors.IsAlreadyExists(err) && attempt < 5 {
			md.Name = md.GenerateName + randomSuffix()
			continue
		}
		return out, err
	}
}

func checkType(k *scheme.Kind, obj scheme.Object) error {
	if obj == nil {
		return apierrors.NewBadRequest("no object in request")
	}
	if av, kind := obj.GetApiVersion(), obj.GetKind(); (av != "" && av != k.APIVersion()) || (kind != "" && kind != k.Kind) {
		return apierrors.NewBadRequest(fmt.Sprintf("the object's apiVersion/kind %s/%s does not match resource %s (%s/%s)",
			av, kind, k.GroupResource(), k.APIVersion(), k.Kind))
	}
	return nil
}

func setNamespace(k *scheme.Kind, ns string, md *metav1.ObjectMeta) error {
	if !k.Namespaced {
		md.Namespace = ""
		return nil
	}
	switch {
	case md.Namespace == "":
		md.Namespace = ns
	case ns != "" && md.Namespace != ns:
		return apierrors.NewBadRequest(fmt.Sprintf("the namespace of the provided object (%s) does not match the namespace sent on the request (%s)", md.Namespace, ns))
	}
	return nil
}

// Get reads one object from etcd.
func (s *Store) Get(ctx context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error) {
	if !k.Namespaced {
		ns = ""
	}
	return s.etcd.Get(ctx, k, ns, name)
}

// fieldOf returns a top-level field of a kind's message, or nil.
func fieldOf(obj scheme.Object, name protoreflect.Name) protoreflect.FieldDescriptor {
	return obj.ProtoReflect().Descriptor().Fields().ByName(name)
}

// copyField sets dst's field to src's (clearing it when src has none).
func copyField(dst, src scheme.Object, name protoreflect.Name) {
	fd := fieldOf(dst, name)
	if fd == nil {
		return
	}
	d, sr := dst.ProtoReflect(), src.ProtoReflect()
	if sr.Has(fd) {
		d.Set(fd, protoreflect.ValueOfMessage(proto.Clone(sr.Get(fd).Message().Interface()).ProtoReflect()))
	} else {
		d.Clear(fd)
	}
}

// specChanged reports whether anything but metadata and status differs,
// which is what bumps metadata.generation.
func specChanged(a, b scheme.Object) bool {
	am, bm := a.ProtoReflect(), b.ProtoReflect()
	fields := am.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch fd.Name() {
		case "apiVersion", "kind", "metadata", "status":
			continue
		}
		if am.Has(fd) != bm.Has(fd) || (am.Has(fd) && !am.Get(fd).Equal(bm.Get(fd))) {
			return true
		}
	}
	return false
}

// SubresourceBinding is Update's mode for a pod binding: spec.nodeName and
// the PodScheduled condition are written together, so it takes both spec
// and status from the object. Only the apiserver's bindings code uses it.
const SubresourceBinding = "binding"

// Update replaces an object. With subresource "status" (or another the
// kind's strategy lists in registry.StatusSubresources) only the status is
// taken from obj; otherwise the status is kept from the stored object
// (for kinds with a status subresource). An empty resourceVersion means
// "whatever is stored now"; any other must equal the stored one.
//
// With o.DryRun the result is computed and returned, and nothing written.
func (s *Store) Update(ctx context.Context, k *scheme.Kind, ns string, obj scheme.Object, subresource string, o rest.WriteOptions) (scheme.Object, error) {
	if err := checkType(k, obj); err != nil {
		return nil, err
	}
	switch subresource {
	case "":
	case SubresourceBinding:
		if k.Resource != "pods" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("unknown subresource %q of %s", subresource, k.GroupResource()))
		}
	case "status":
		if !k.HasStatus {
			return nil, apierrors.NewMethodNotSupported(k.GroupResource()+"/status", "update")
		}
	default:
		if !k.HasStatus || !slices.Contains(registry.Subresources(k.Resource), subresource) {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("unknown subresource %q of %s", subresource, k.GroupResource()))
		}
	}
	statusOnly := subresource != "" && subresource != SubresourceBinding
	md := scheme.Meta(obj)
	if err := setNamespace(k, ns, md); err != nil {
		return nil, err
	}
	if md.Name == "" {
		return nil, apierrors.NewInvalid(k.Kind, "", []apierrors.FieldError{apierrors.Required("metadata.name", "name is required")})
	}
	if _, err := storage.ParseRV(md.ResourceVersion); err != nil {
		return nil, err // "abc" or "-5" is a bad request, not a conflict
	}
	old, err := s.etcd.Get(ctx, k, md.Namespace, md.Name)
	if err != nil {
		return nil, err
	}
	oldMD := old.GetMetadata()
	if md.ResourceVersion == "" {
		md.ResourceVersion = oldMD.ResourceVersion
	}
	if md.ResourceVersion != oldMD.ResourceVersion {
		return nil, apierrors.NewConflict(k.GroupResource(), md.Name,
			"the object has been modified; please apply your changes to the latest version and try again")
	}

	var next scheme.Object
	if statusOnly {
		// Only status changes; everything else is the stored object's.
		next = proto.Clone(old).(scheme.Object)
		copyField(next, obj, "status")
		if p, ok := registry.For(k.Resource).(registry.StatusSubresources); ok {
			p.PrepareSubresourceUpdate(subresource, next, old)
		}
	} else {
		next = obj
		scheme.SetTypeMeta(next, k)
		if k.HasStatus && subresource != SubresourceBinding {
			copyField(next, old, "status")
		}
		nmd := scheme.Meta(next)
		// System fields are the server's, whatever the client sent.
		if nmd.Uid != "" && nmd.Uid != oldMD.Uid {
			return nil, apierrors.NewInvalid(k.Kind, md.Name, []apierrors.FieldError{apierrors.Invalid("metadata.uid", nmd.Uid, "field is immutable")})
		}
		nmd.Uid = oldMD.Uid
		nmd.CreationTimestamp = oldMD.CreationTimestamp
		nmd.DeletionTimestamp = oldMD.DeletionTimestamp
		nmd.DeletionGracePeriodSeconds = oldMD.DeletionGracePeriodSeconds
		nmd.Generation = oldMD.Generation
		nmd.SelfLink = ""
		nmd.GenerateName = oldMD.GenerateName
		registry.For(k.Resource).Default(next)
		if specChanged(next, old) {
			nmd.Generation = oldMD.Generation + 1
		}
		if oldMD.DeletionTimestamp != nil && len(nmd.Finalizers) > len(oldMD.Finalizers) {
			return nil, apierrors.NewForbidden(k.GroupResource(), md.Name, "no new finalizers can be added if the object is being deleted")
		}
	}
	if subresource != SubresourceBinding {
		// The writer owns what it changed (Update in managedFields), as
		// the PATCH path already recorded for its own writes.
		if next, err = patch.TrackObject(k, subresource, old, next, o.FieldManager, s.now()); err != nil {
			return nil, err
		}
	}
	scheme.Meta(next).ResourceVersion = oldMD.ResourceVersion

	errs := s.validate(k, next)
	errs = append(errs, validation.ValidateObjectMetaUpdate(next.GetMetadata(), oldMD, "metadata")...)
	if len(errs) == 0 {
		errs = registry.For(k.Resource).ValidateUpdate(next, old)
	}
	if err := invalid(k, md.Name, errs); err != nil {
		return nil, err
	}
	if proto.Equal(next, old) && !s.stale(ctx, k, md.Namespace, md.Name) {
		return old, nil // a no-op update does not touch etcd
	}
	if o.DryRun {
		return next, nil
	}
	if s.canFinishDelete(k, next) {
		return s.etcd.Delete(ctx, k, md.Namespace, md.Name, mustRV(oldMD.ResourceVersion))
	}
	return s.etcd.Update(ctx, k, next)
}

func mustRV(rv string) int64 {
	n, _ := storage.ParseRV(rv)
	return n
}

// canFinishDelete: an object marked for deletion goes once its finalizers
// are gone and its kind agrees.
func (s *Store) canFinishDelete(k *scheme.Kind, obj scheme.Object) bool {
	md := obj.GetMetadata()
	if md.DeletionTimestamp == nil || len(md.Finalizers) > 0 {
		return false
	}
	if ds := registry.DeleteFor(k.Resource); ds != nil {
		return ds.CanFinish(obj)
	}
	return true
}

// Delete removes an object, or marks it with deletionTimestamp when it has
// finalizers or a grace period. It returns the removed or marked object.
// With o.DryRun it returns what it would remove or mark, and writes nothing.
func (s *Store) Delete(ctx context.Context, k *scheme.Kind, ns, name string, opts *metav1.DeleteOptions, o rest.WriteOptions) (scheme.Object, error) {
	if !k.Namespaced {
		ns = ""
	}
	for attempt := 0; ; attempt++ {
		out, err := s.deleteOnce(ctx, k, ns, name, opts, o.DryRun)
		// A concurrent writer changed the object between read and delete;
		// deletes without a resourceVersion precondition simply retry.
		if apierrors.IsConflict(err) && opts.GetPreconditions().GetResourceVersion() == "" && attempt < 10 {
			continue
		}
		return out, err
	}
}

func (s *Store) deleteOnce(ctx context.Context, k *scheme.Kind, ns, name string, opts *metav1.DeleteOptions, dryRun bool) (scheme.Object, error) {
	cur, err := s.etcd.Get(ctx, k, ns, name)
	if apierrors.IsStoreReadError(err) {
		// A value that cannot be read can still be removed; nothing
		// else would ever get rid of it.
		if dc, ok := s.etcd.(interface {
			DeleteCorrupt(ctx context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error)
		}); ok && !dryRun {
			return dc.DeleteCorrupt(ctx, k, ns, name)
		}
	}
	if err != nil {
		return nil, err
	}
	md := cur.GetMetadata()
	if pre := opts.GetPreconditions(); pre != nil {
		if pre.Uid != "" && pre.Uid != md.Uid {
			return nil, apierrors.NewConflict(k.GroupResource(), name, fmt.Sprintf("the UID in the precondition (%s) does not match the UID in record (%s); the object might have been deleted and then recreated", pre.Uid, md.Uid))
		}
		if pre.ResourceVersion != "" && pre.ResourceVersion != md.ResourceVersion {
			return nil, apierrors.NewConflict(k.GroupResource(), name, fmt.Sprintf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s); the object might have been modified", pre.ResourceVersion, md.ResourceVersion))
		}
	}
	if g := opts.GetGracePeriodSeconds(); opts != nil && opts.GracePeriodSeconds != nil && g < 0 {
		return nil, apierrors.NewInvalid(k.Kind, name, []apierrors.FieldError{apierrors.Invalid("gracePeriodSeconds", g, "must be >= 0")})
	}
	marked := proto.Clone(cur).(scheme.Object)
	mmd := marked.GetMetadata()
	var grace int64
	keep := false
	if ds := registry.DeleteFor(k.Resource); ds != nil {
		grace, keep = ds.BeforeDelete(marked, opts)
	}
	switch opts.GetPropagationPolicy() {
	case "Foreground":
		mmd.Finalizers = addOnce(mmd.Finalizers, "foregroundDeletion")
	case "Orphan":
		mmd.Finalizers = addOnce(mmd.Finalizers, "orphan")
	case "", "Background":
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid propagationPolicy %q: must be Orphan, Background or Foreground", opts.GetPropagationPolicy()))
	}
	if !keep && len(mmd.Finalizers) == 0 {
		if dryRun {
			return cur, nil
		}
		return s.etcd.Delete(ctx, k, ns, name, mustRV(md.ResourceVersion))
	}
	if md.DeletionTimestamp != nil {
		// Already being deleted: only a shorter grace period changes anything.
		if md.DeletionGracePeriodSeconds == nil || grace >= *md.DeletionGracePeriodSeconds {
			if proto.Equal(marked, cur) || dryRun {
				return cur, nil
			}
			mmd.DeletionTimestamp, mmd.DeletionGracePeriodSeconds = md.DeletionTimestamp, md.DeletionGracePeriodSeconds
			return s.etcd.Update(ctx, k, marked)
		}
	}
	mmd.DeletionTimestamp = timestamppb.New(s.now().Add(time.Duration(grace) * time.Second).Truncate(time.Second))
	mmd.DeletionGracePeriodSeconds = proto.Int64(grace)
	if dryRun {
		return marked, nil
	}
	return s.etcd.Update(ctx, k, marked)
}

func addOnce(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// List serves a list from the watch cache. minRV 0 serves what the cache
// holds now; a positive minRV waits until the cache has reached it.
func (s *Store) List(ctx context.Context, k *scheme.Kind, f cache.Filter, o cache.ListOptions) ([]cache.Item, int64, string, error) {
	if !k.Namespaced {
		f.Namespace = ""
	}
	return s.caches[k.Resource].List(ctx, f, o)
}

// ConsistentRV returns etcd's current revision, for a list that must see
// every write acknowledged before it started.
func (s *Store) ConsistentRV(ctx context.Context) (int64, error) {
	return s.etcd.CurrentRevision(ctx)
}

// Watch opens a watch on the kind's cache.
func (s *Store) Watch(ctx context.Context, k *scheme.Kind, f cache.Filter, rv int64, bookmarks bool) (*cache.Watcher, error) {
	if !k.Namespaced {
		f.Namespace = ""
	}
	return s.caches[k.Resource].Watch(ctx, f, rv, bookmarks)
}

// stale reports whether a no-op update must still be written: the stored
// value is encrypted with a provider other than the current first one, and
// rewriting every object is how a key is rotated (Kubernetes' `kubectl get
// secrets -A -o json | kubectl replace -f -`). An error reads as not stale:
// the update then stays a no-op, as it would be without encryption.
func (s *Store) stale(ctx context.Context, k *scheme.Kind, ns, name string) bool {
	st, ok := s.etcd.(interface {
		Stale(ctx context.Context, k *scheme.Kind, ns, name string) (bool, error)
	})
	if !ok {
		return false
	}
	stale, err := st.Stale(ctx, k, ns, name)
	return err == nil && stale
}
