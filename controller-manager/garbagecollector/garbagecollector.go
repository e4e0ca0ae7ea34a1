// Package garbagecollector deletes objects whose owners are gone and
// carries out the three deletion propagation policies, using the
// ownerReferences of every watched kind:
//
//   - Background (the default): the owner goes at once; its dependents,
//     now with a dangling owner reference, are deleted afterwards.
//   - Foreground: the apiserver keeps the owner with the
//     "foregroundDeletion" finalizer; the collector deletes its
//     dependents and removes the finalizer once no dependent that blocks
//     owner deletion (blockOwnerDeletion) is left.
//   - Orphan: the apiserver keeps the owner with the "orphan" finalizer;
//     the collector removes the owner's references from its dependents
//     and then the finalizer.
//
// An object with several owners is deleted only when none is left; while
// some remain, references to the gone ones are removed. An owner missing
// from the cache is read live before its dependents are judged orphans,
// so a dependent seen before its owner's watch event survives.
package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/controller-manager/controller"
)

// Finalizers the apiserver adds for Foreground and Orphan deletes.
const (
	ForegroundFinalizer = "foregroundDeletion"
	OrphanFinalizer     = "orphan"
)

// OwnerIndex indexes objects by the uid of every owner they reference.
const OwnerIndex = "owner-uid"

// Cache is the collector's read access to one kind's informer.
type Cache interface {
	Get(namespace, name string) (scheme.Object, bool)
	// Dependents returns the cached objects referencing owner uid.
	Dependents(uid string) []scheme.Object
	List() []scheme.Object
	HasSynced() bool
}

// Kind is one watched resource: its cache and its API.
type Kind struct {
	Kind  *scheme.Kind
	Cache Cache
	API   controller.API[scheme.Object]
}

// Collector is the garbage collector.
type Collector struct {
	controller.Base
	kinds map[string]*Kind // by resource
}

// New returns a collector without kinds; add them with Add before Run.
// Run (the Base's) waits for every cache, queues every object with owners
// or being deleted (what happened while no collector ran), and runs
// workers until ctx ends.
func New(metrics *controller.Metrics) *Collector {
	gc := &Collector{Base: controller.NewBase("garbagecollector", nil, metrics, nil), kinds: map[string]*Kind{}}
	gc.Sync = gc.sync
	gc.Synced = gc.sweep
	return gc
}

// Add registers a watched kind, whose cache Run waits for. Its
// informer's handlers must call OnAdd, OnUpdate and OnDelete (see
// AddTyped).
func (gc *Collector) Add(k *Kind) {
	gc.kinds[k.Kind.Resource] = k
	gc.WaitFor(k.Cache.HasSynced)
}

// itemKey is "resource/namespace/name".
func itemKey(resource string, obj scheme.Object) string {
	md := obj.GetMetadata()
	return resource + "/" + md.GetNamespace() + "/" + md.GetName()
}

func splitItem(key string) (resource, ns, name string) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return "", "", ""
	}
	return parts[0], parts[1], parts[2]
}

func hasFinalizer(obj scheme.Object, f string) bool {
	return slices.Contains(obj.GetMetadata().GetFinalizers(), f)
}

func deleting(obj scheme.Object) bool { return obj.GetMetadata().GetDeletionTimestamp() != nil }

// OnAdd handles an object appearing in a cache.
func (gc *Collector) OnAdd(resource string, obj scheme.Object) {
	if len(obj.GetMetadata().GetOwnerReferences()) > 0 || deleting(obj) {
		gc.Queue.Add(itemKey(resource, obj))
	}
	gc.enqueueWaitingOwners(obj)
}

// OnUpdate handles a change: only owner references and deletion state
// matter to the collector.
func (gc *Collector) OnUpdate(resource string, old, cur scheme.Object) {
	om, cm := old.GetMetadata(), cur.GetMetadata()
	if om.GetResourceVersion() == cm.GetResourceVersion() {
		return
	}
	refsChanged := !slices.EqualFunc(om.GetOwnerReferences(), cm.GetOwnerReferences(), func(a, b *metav1.OwnerReference) bool { return proto.Equal(a, b) })
	if refsChanged || deleting(cur) != deleting(old) || !slices.Equal(om.GetFinalizers(), cm.GetFinalizers()) {
		gc.Queue.Add(itemKey(resource, cur))
		gc.enqueueWaitingOwners(cur)
		if refsChanged {
			gc.enqueueWaitingOwners(old)
		}
	}
}

// OnDelete handles an object leaving: its dependents may now be orphans,
// and an owner waiting in foreground deletion may be done.
func (gc *Collector) OnDelete(resource string, obj scheme.Object) {
	for _, d := range gc.dependents(obj.GetMetadata().GetUid()) {
		gc.Queue.Add(itemKey(d.resource, d.obj))
	}
	gc.enqueueWaitingOwners(obj)
}

// enqueueWaitingOwners queues the owners of obj that are being deleted
// in the foreground: a change of a dependent may let them finish.
func (gc *Collector) enqueueWaitingOwners(obj scheme.Object) {
	for _, ref := range obj.GetMetadata().GetOwnerReferences() {
		k := gc.kindOfRef(ref)
		if k == nil {
			continue
		}
		owner, ok := k.Cache.Get(ownerNamespace(k, obj), ref.GetName())
		if ok && owner.GetMetadata().GetUid() == ref.GetUid() && deleting(owner) && hasFinalizer(owner, ForegroundFinalizer) {
			gc.Queue.Add(itemKey(k.Kind.Resource, owner))
		}
	}
}

func ownerNamespace(k *Kind, dependent scheme.Object) string {
	if !k.Kind.Namespaced {
		return ""
	}
	return dependent.GetMetadata().GetNamespace()
}

func (gc *Collector) kindOfRef(ref *metav1.OwnerReference) *Kind {
	sk, err := scheme.ByKind(ref.GetApiVersion(), ref.GetKind())
	if err != nil {
		return nil
	}
	return gc.kinds[sk.Resource]
}

type dependent struct {
	resource string
	obj      scheme.Object
}

// dependents returns every cached object referencing uid.
func (gc *Collector) dependents(uid string) []dependent {
	var out []dependent
	for res, k := range gc.kinds {
		for _, o := range k.Cache.Dependents(uid) {
			out = append(out, dependent{res, o})
		}
	}
	return out
}

// sweep queues every cached object with owners or being deleted: the
// owners of some may have gone while no collector ran.
func (gc *Collector) sweep() {
	for res, k := range gc.kinds {
		for _, o := range k.Cache.List() {
			if len(o.GetMetadata().GetOwnerReferences()) > 0 || deleting(o) {
				gc.Queue.Add(itemKey(res, o))
			}
		}
	}
}

// sync processes one object.
func (gc *Collector) sync(ctx context.Context, key string) error {
	resource, ns, name := splitItem(key)
	k := gc.kinds[resource]
	if k == nil {
		return nil
	}
	obj, ok := k.Cache.Get(ns, name)
	if !ok {
		return nil
	}
	if deleting(obj) {
		switch {
		case hasFinalizer(obj, OrphanFinalizer):
			return gc.orphanDependents(ctx, k, obj)
		case hasFinalizer(obj, ForegroundFinalizer):
			return gc.deleteDependentsInForeground(ctx, k, obj)
		}
		return nil
	}
	return gc.checkOwners(ctx, k, obj)
}

// ownerState classifies one owner reference.
type ownerState int

const (
	solid    ownerState = iota // exists
	dangling                   // gone (or replaced by another uid)
	waiting                    // being deleted in the foreground
)

// owner looks an owner up in the cache, then live if the cache lacks it.
func (gc *Collector) owner(ctx context.Context, dependentObj scheme.Object, ref *metav1.OwnerReference) (ownerState, error) {
	k := gc.kindOfRef(ref)
	if k == nil {
		return solid, nil // a kind we do not know: never judge it gone
	}
	ns := ownerNamespace(k, dependentObj)
	o, ok := k.Cache.Get(ns, ref.GetName())
	if !ok || o.GetMetadata().GetUid() != ref.GetUid() {
		live, err := k.API.Get(ctx, ns, ref.GetName())
		switch {
		case apierrors.IsNotFound(err):
			return dangling, nil
		case err != nil:
			return solid, err
		case live.GetMetadata().GetUid() != ref.GetUid():
			return dangling, nil
		}
		o = live
	}
	if deleting(o) && hasFinalizer(o, ForegroundFinalizer) {
		return waiting, nil
	}
	return solid, nil
}

// checkOwners deletes obj when all its owners are gone (or waiting for
// their dependents), or drops references to gone owners while others remain.
func (gc *Collector) checkOwners(ctx context.Context, k *Kind, obj scheme.Object) error {
	refs := obj.GetMetadata().GetOwnerReferences()
	if len(refs) == 0 {
		return nil
	}
	var solids, gone []*metav1.OwnerReference
	anyWaiting := false
	for _, ref := range refs {
		st, err := gc.owner(ctx, obj, ref)
		if err != nil {
			return err
		}
		switch st {
		case solid:
			solids = append(solids, ref)
		case dangling:
			gone = append(gone, ref)
		case waiting:
			gone = append(gone, ref)
			anyWaiting = true
		}
	}
	md := obj.GetMetadata()
	switch {
	case len(gone) == 0:
		return nil
	case len(solids) > 0:
		uids := map[string]bool{}
		for _, r := range gone {
			uids[r.GetUid()] = true
		}
		gc.Log.Info("removing references to deleted owners", "object", itemKeyLog(k, obj), "owners", len(gone))
		return gc.modify(ctx, k, obj, func(o scheme.Object) bool {
			m := o.GetMetadata()
			n := len(m.OwnerReferences)
			m.OwnerReferences = slices.DeleteFunc(m.OwnerReferences, func(r *metav1.OwnerReference) bool { return uids[r.GetUid()] })
			return len(m.OwnerReferences) != n
		})
	}
	policy := "Background"
	if anyWaiting && len(gc.dependents(md.GetUid())) > 0 {
		policy = "Foreground" // keep the chain blocking the waiting owner
	}
	gc.Log.Info("deleting object whose owners are gone", "object", itemKeyLog(k, obj), "propagationPolicy", policy)
	_, err := k.API.Delete(ctx, md.GetNamespace(), md.GetName(), &metav1.DeleteOptions{
		PropagationPolicy: policy, Preconditions: &metav1.Preconditions{Uid: md.GetUid()},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", itemKeyLog(k, obj), err)
	}
	return nil
}

func itemKeyLog(k *Kind, obj scheme.Object) string {
	md := obj.GetMetadata()
	if md.GetNamespace() == "" {
		return k.Kind.Resource + "/" + md.GetName()
	}
	return k.Kind.Resource + "/" + md.GetNamespace() + "/" + md.GetName()
}

// deleteDependentsInForeground deletes the owner's dependents and removes
// the foregroundDeletion finalizer once no blocking dependent is left.
func (gc *Collector) deleteDependentsInForeground(ctx context.Context, k *Kind, owner scheme.Object) error {
	uid := owner.GetMetadata().GetUid()
	blocking := 0
	var errs []error
	for _, d := range gc.dependents(uid) {
		dk := gc.kinds[d.resource]
		for _, r := range d.obj.GetMetadata().GetOwnerReferences() {
			if r.GetUid() == uid && r.GetBlockOwnerDeletion() {
				blocking++
				break
			}
		}
		if deleting(d.obj) {
			continue
		}
		// A dependent with owners left is kept (checkOwners drops the reference).
		if len(d.obj.GetMetadata().GetOwnerReferences()) > 1 {
			gc.Queue.Add(itemKey(d.resource, d.obj))
			continue
		}
		policy := "Background"
		if len(gc.dependents(d.obj.GetMetadata().GetUid())) > 0 {
			policy = "Foreground"
		}
		md := d.obj.GetMetadata()
		_, err := dk.API.Delete(ctx, md.GetNamespace(), md.GetName(), &metav1.DeleteOptions{
			PropagationPolicy: policy, Preconditions: &metav1.Preconditions{Uid: md.GetUid()},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("delete dependent %s: %w", itemKeyLog(dk, d.obj), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if blocking > 0 {
		return nil // their deletion events bring the owner back
	}
	gc.Log.Info("dependents gone, finishing foreground deletion", "object", itemKeyLog(k, owner))
	return gc.removeFinalizer(ctx, k, owner, ForegroundFinalizer)
}

// orphanDependents removes the owner's references from its dependents,
// then the orphan finalizer.
func (gc *Collector) orphanDependents(ctx context.Context, k *Kind, owner scheme.Object) error {
	uid := owner.GetMetadata().GetUid()
	var errs []error
	for _, d := range gc.dependents(uid) {
		err := gc.modify(ctx, gc.kinds[d.resource], d.obj, func(o scheme.Object) bool {
			m := o.GetMetadata()
			n := len(m.OwnerReferences)
			m.OwnerReferences = slices.DeleteFunc(m.OwnerReferences, func(r *metav1.OwnerReference) bool { return r.GetUid() == uid })
			return len(m.OwnerReferences) != n
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	gc.Log.Info("dependents orphaned, finishing deletion", "object", itemKeyLog(k, owner))
	return gc.removeFinalizer(ctx, k, owner, OrphanFinalizer)
}

func (gc *Collector) removeFinalizer(ctx context.Context, k *Kind, obj scheme.Object, f string) error {
	return gc.modify(ctx, k, obj, func(o scheme.Object) bool {
		m := o.GetMetadata()
		n := len(m.Finalizers)
		m.Finalizers = slices.DeleteFunc(m.Finalizers, func(x string) bool { return x == f })
		return len(m.Finalizers) != n
	})
}

// modify changes a copy of obj and writes it, re-reading on conflict; a
// vanished or replaced object is not an error.
func (gc *Collector) modify(ctx context.Context, k *Kind, obj scheme.Object, change func(scheme.Object) bool) error {
	if _, err := controller.Update(ctx, k.API, obj, change); controller.IgnoreNotFound(err) != nil {
		return fmt.Errorf("update %s: %w", itemKeyLog(k, obj), err)
	}
	return nil
}
