package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/managedfields"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// Server-side apply and managedFields use Kubernetes' own field manager
// (k8s.io/apimachinery/pkg/util/managedfields over
// sigs.k8s.io/structured-merge-diff/v6, the release that k8s.io/apimachinery
// v0.37.2 is built on and that builds with our Go; v7 is the one that needs a
// newer Go). So ownership, conflicts, the FieldsV1 notation, the
// last-applied-configuration interplay with client-side kubectl apply and the
// cap of ten Update managers behave exactly as in Kubernetes. Schemas (list
// merge keys, atomic lists and maps) come from client-go's built-in type
// schema for kinds k8s.io/api has; other kinds get the deduced schema
// Kubernetes uses for custom resources without one (every list atomic).
//
// Objects go through the field manager as unstructured maps, never as
// k8s.io/api structs, so nothing that the codec would reject (empty structs
// Go cannot omit) enters the result. Each kind has a single version here,
// so conversion is the identity.

// Operations recorded in managedFields.
const (
	OperationApply  = "Apply"
	OperationUpdate = "Update"
)

// ServerSideApply merges applied (the request body: YAML or JSON) into
// current (the stored object as Kubernetes JSON, or nil when it does not
// exist yet) for the field manager manager, and returns the new object as
// Kubernetes JSON with metadata.managedFields updated as Kubernetes writes
// it; entries this call changed carry time now.
//
// The applied configuration sets the fields it names and manager then owns
// them; fields manager applied before and no longer names are removed unless
// another manager also owns them; lists with merge keys merge per key, other
// lists and maps marked atomic are replaced whole. A field that another
// manager owns with a different value is a Conflict (409) listing each field
// (causes of type FieldManagerConflict) unless force, which takes ownership.
// For a kind with a status subresource, status in the applied configuration
// is ignored, as Kubernetes ignores it on the main resource.
//
// Errors: manager empty is Invalid (PatchOptions fieldManager is required);
// a body that is not a YAML or JSON object, has the wrong apiVersion or kind,
// sets metadata.managedFields, names a field the schema lacks or repeats a
// list key is BadRequest. The caller still checks name and namespace against
// the URL, defaults and validates.
func ServerSideApply(k *scheme.Kind, current, applied []byte, manager string, force bool, now time.Time) ([]byte, error) {
	if manager == "" {
		return nil, apierrors.NewInvalid("PatchOptions.meta.k8s.io", "",
			[]apierrors.FieldError{apierrors.Required("fieldManager", "is required for apply requests")})
	}
	fm, err := fieldManagerFor(k, "")
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	live, err := liveObject(k, current)
	if err != nil {
		return nil, err
	}
	patchObj := &unstructured.Unstructured{Object: map[string]any{}}
	if err := utilyaml.Unmarshal(applied, &patchObj.Object); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	if patchObj.Object == nil {
		return nil, apierrors.NewBadRequest("error decoding YAML: the body is not an object")
	}
	out, err := fm.Apply(live, patchObj, manager, force)
	if err != nil {
		return nil, applyError(err)
	}
	return finish(k, live, out, now)
}

// TrackUpdate records a non-apply write (create, update or patch) in the
// managedFields of new: the fields the write changed from old (nil on
// create) become owned by manager with operation Update, and leave every
// other manager's set, as Kubernetes does, so later applies see who owns
// what. It returns new as Kubernetes JSON with metadata.managedFields
// updated; entries this call changed carry time now.
//
// operation names the kind of write for the caller's logs; Kubernetes records
// every non-apply write, PATCH included, as "Update", and so does TrackUpdate
// ("Apply" is refused: use ServerSideApply). new carries the managedFields the
// client sent: none keeps the stored ones, a changed list replaces them.
// As in Kubernetes, an existing object that has no managedFields yet (written
// before any manager was tracked) stays untracked until its first apply.
// manager empty returns new unchanged. TrackUpdate never fails on a field
// the schema does not know: it then keeps the stored managedFields, as
// Kubernetes' UpdateNoErrors does, rather than failing the write.
func TrackUpdate(k *scheme.Kind, old, new []byte, manager, operation string, now time.Time) ([]byte, error) {
	return TrackSubresourceUpdate(k, "", old, new, manager, operation, now)
}

// TrackSubresourceUpdate is TrackUpdate for a write to a subresource
// ("status", "scale"): its entries carry that subresource, and for status
// the spec is not tracked.
func TrackSubresourceUpdate(k *scheme.Kind, subresource string, old, new []byte, manager, operation string, now time.Time) ([]byte, error) {
	if operation == OperationApply {
		return nil, apierrors.NewInternal(errors.New("TrackUpdate records non-apply writes; use ServerSideApply"))
	}
	if manager == "" {
		return new, nil
	}
	live, out, err := recordUpdate(k, subresource, old, new, manager)
	if err != nil {
		return nil, err
	}
	return finish(k, live, out, now)
}

// recordUpdate runs the field manager's Update of old to new by manager:
// the live object and the result carrying the new managedFields.
func recordUpdate(k *scheme.Kind, subresource string, old, new []byte, manager string) (*unstructured.Unstructured, runtime.Object, error) {
	fm, err := fieldManagerFor(k, subresource)
	if err != nil {
		return nil, nil, apierrors.NewInternal(err)
	}
	live, err := liveObject(k, old)
	if err != nil {
		return nil, nil, err
	}
	newObj, err := liveObject(k, new)
	if err != nil {
		return nil, nil, err
	}
	return live, fm.UpdateNoErrors(live, newObj, manager), nil
}

// ManagerFromUserAgent is the field manager Kubernetes records for a write
// that names none: the User-Agent up to its first "/" ("kubectl" for
// "kubectl/v1.33.0 (linux/amd64) kubernetes/abc"), at most 128 bytes.
func ManagerFromUserAgent(userAgent string) string {
	m, _, _ := strings.Cut(userAgent, "/")
	if len(m) > 128 {
		m = m[:128]
	}
	return m
}

// liveObject decodes a stored object into the unstructured form the field
// manager takes; nil or empty data is an empty object of kind k (no uid, so
// the field manager treats the write as a create).
func liveObject(k *scheme.Kind, data []byte) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	if len(data) > 0 {
		if err := utiljson.Unmarshal(data, &u.Object); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("decode %s: %v", k.Kind, err))
		}
		if u.Object == nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("decode %s: not a JSON object", k.Kind))
		}
	}
	u.SetAPIVersion(k.APIVersion())
	u.SetKind(k.Kind)
	return u, nil
}

// finish turns the field manager's result into our canonical JSON and sets
// the time of every managedFields entry the call stamped to now (the field
// manager stamps the wall clock; callers and tests want their own).
func finish(k *scheme.Kind, live *unstructured.Unstructured, out runtime.Object, now time.Time) ([]byte, error) {
	u, err := stamp(live, out, now)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(u.Object)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	return normalize(k, data)
}

// stamp returns the field manager's result as an unstructured object with
// the entries the call changed (their time differs from live's) set to now.
func stamp(live *unstructured.Unstructured, out runtime.Object, now time.Time) (*unstructured.Unstructured, error) {
	before := map[string]string{}
	for _, e := range live.GetManagedFields() {
		if e.Time != nil {
			before[entryKey(e.Manager, string(e.Operation), e.Subresource)] = e.Time.UTC().Format(time.RFC3339)
		}
	}
	return stampSince(before, out, now)
}

// stampSince is stamp with the live entries' times given, by entryKey.
func stampSince(before map[string]string, out runtime.Object, now time.Time) (*unstructured.Unstructured, error) {
	u, ok := out.(*unstructured.Unstructured)
	if !ok {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(out)
		if err != nil {
			return nil, apierrors.NewInternal(err)
		}
		u = &unstructured.Unstructured{Object: m}
	}
	stamp := now.UTC().Format(time.RFC3339)
	if entries, found, _ := unstructured.NestedSlice(u.Object, "metadata", "managedFields"); found {
		for _, e := range entries {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			key := entryKey(str(m["manager"]), str(m["operation"]), str(m["subresource"]))
			if t, ok := m["time"].(string); !ok || t != before[key] {
				m["time"] = stamp
			}
		}
		_ = unstructured.SetNestedSlice(u.Object, entries, "metadata", "managedFields")
	}
	return u, nil
}

func entryKey(manager, operation, subresource string) string {
	return manager + "\x00" + operation + "\x00" + subresource
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// applyError turns the field manager's errors into ours: its StatusErrors
// (conflicts, wrong version) keep code, reason, message and causes; the
// rest are faults of the applied configuration (a field the schema lacks,
// a duplicate list key) and so BadRequest.
func applyError(err error) error {
	var se *k8serrors.StatusError
	if errors.As(err, &se) {
		st := se.ErrStatus
		out := &apierrors.StatusError{Status: &metav1.Status{
			ApiVersion: "v1", Kind: "Status", Status: "Failure",
			Code: st.Code, Reason: string(st.Reason), Message: st.Message,
			Details: &metav1.StatusDetails{},
		}}
		if d := st.Details; d != nil {
			out.Status.Details = &metav1.StatusDetails{Name: d.Name, Group: d.Group, Kind: d.Kind, Uid: string(d.UID),
				RetryAfterSeconds: d.RetryAfterSeconds}
			for _, c := range d.Causes {
				out.Status.Details.Causes = append(out.Status.Details.Causes,
					&metav1.StatusCause{Reason: string(c.Type), Message: c.Message, Field: c.Field})
			}
		}
		return out
	}
	return apierrors.NewBadRequest(err.Error())
}

// fieldManagers caches one field manager per kind and subresource: building
// one parses the kind's schema, and a manager holds no per-request state.
var fieldManagers sync.Map // "apps/v1/Deployment/status" -> *managedfields.FieldManager

var (
	builtinTypesOnce sync.Once
	builtinTypes     managedfields.TypeConverter
	deducedTypes     = managedfields.NewDeducedTypeConverter()
)

func fieldManagerFor(k *scheme.Kind, subresource string) (*managedfields.FieldManager, error) {
	key := k.APIVersion() + "/" + k.Kind + "/" + subresource
	if fm, ok := fieldManagers.Load(key); ok {
		return fm.(*managedfields.FieldManager), nil
	}
	gvk := schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
	gv := gvk.GroupVersion()
	reset := resetFields(k, subresource)
	var (
		fm  *managedfields.FieldManager
		err error
	)
	if _, known := k8sObject(k); known {
		fm, err = managedfields.NewDefaultFieldManager(typeConverterFor(k), identity{}, identity{}, identity{}, gvk, gv, subresource, reset)
	} else {
		fm, err = managedfields.NewDefaultCRDFieldManager(typeConverterFor(k), identity{}, identity{}, identity{}, gvk, gv, subresource, reset)
	}
	if err != nil {
		return nil, fmt.Errorf("field manager for %s: %w", key, err)
	}
	actual, _ := fieldManagers.LoadOrStore(key, fm)
	return actual.(*managedfields.FieldManager), nil
}

// resetFields are the fields a write to the main resource or to a
// subresource does not own, as Kubernetes' registries declare them: the main
// resource of a kind with a status subresource leaves status alone, and the
// status subresource leaves everything but status (metadata stays tracked,
// as Kubernetes tracks labels set through status).
func resetFields(k *scheme.Kind, subresource string) map[fieldpath.APIVersion]fieldpath.Filter {
	if !k.HasStatus {
		return nil
	}
	var set *fieldpath.Set
	switch subresource {
	case "":
		set = fieldpath.NewSet(fieldpath.MakePathOrDie("status"))
	case "status":
		set = fieldpath.NewSet(fieldpath.MakePathOrDie("spec"))
	default:
		return nil
	}
	return map[fieldpath.APIVersion]fieldpath.Filter{
		fieldpath.APIVersion(k.APIVersion()): fieldpath.NewExcludeSetFilter(set),
	}
}

// identity is the field manager's converter, defaulter and creater for
// unstructured objects of a single version: conversion only relabels the
// apiVersion, defaulting is left to the registry, and a new object is an
// empty map of the kind.
type identity struct{}

func (identity) Convert(in, out, context any) error {
	return errors.New("patch: typed conversion is not supported")
}

func (identity) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("patch: cannot convert %T", in)
	}
	kind := u.GroupVersionKind()
	target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{kind})
	if !ok {
		return nil, fmt.Errorf("patch: no version of %v in %v", kind, gv)
	}
	if target == kind {
		return u, nil
	}
	c := u.DeepCopy()
	c.SetGroupVersionKind(target)
	return c, nil
}

func (identity) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

func (identity) Default(runtime.Object) {}

func (identity) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// TrackObject is TrackSubresourceUpdate for objects: it records a create
// (old nil) or an update of next by manager as an Update entry in next's
// managedFields, in place, and returns next. The generic registry calls it
// on every create and update that names a manager, so objects written by
// PUT and POST carry managedFields as in Kubernetes and a later
// server-side apply by another manager conflicts only where the values
// differ.
//
// It is on the path of every write, so it skips the JSON text the
// []byte trackers go through: the messages become unstructured trees
// directly, and only the new managedFields come back (an Update changes
// nothing else in the object).
func TrackObject(k *scheme.Kind, subresource string, old, next scheme.Object, manager string, now time.Time) (scheme.Object, error) {
	if manager == "" {
		return next, nil
	}
	if old == nil && len(next.GetMetadata().GetManagedFields()) == 0 {
		return trackCreate(k, subresource, next, manager, now)
	}
	return trackWrite(k, subresource, old, next, manager, now)
}

// trackWrite is TrackObject through the field manager, for any write.
func trackWrite(k *scheme.Kind, subresource string, old, next scheme.Object, manager string, now time.Time) (scheme.Object, error) {
	fm, err := fieldManagerFor(k, subresource)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	live, err := unstructuredOf(k, old)
	if err != nil {
		return nil, err
	}
	newObj, err := unstructuredOf(k, next)
	if err != nil {
		return nil, err
	}
	before := map[string]string{}
	if old != nil {
		for _, e := range old.GetMetadata().GetManagedFields() {
			if e.Time != nil {
				before[entryKey(e.Manager, e.Operation, e.Subresource)] = e.Time.AsTime().UTC().Format(time.RFC3339)
			}
		}
	}
	u, err := stampSince(before, fm.UpdateNoErrors(live, newObj, manager), now)
	if err != nil {
		return nil, err
	}
	entries, _, _ := unstructured.NestedSlice(u.Object, "metadata", "managedFields")
	managed, err := managedFieldsOf(entries)
	if err != nil {
		return nil, apierrors.NewInternal(fmt.Errorf("managedFields of %s %s: %w", k.Kind, next.GetMetadata().GetName(), err))
	}
	scheme.Meta(next).ManagedFields = managed
	return next, nil
}

// unstructuredOf is liveObject for a message: nil is an empty object of
// kind k.
func unstructuredOf(k *scheme.Kind, m scheme.Object) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	if m != nil {
		obj, err := codec.ToUnstructured(m)
		if err != nil {
			return nil, apierrors.NewInternal(err)
		}
		u.Object = obj
	}
	u.SetAPIVersion(k.APIVersion())
	u.SetKind(k.Kind)
	return u, nil
}

// managedFieldsOf reads the field manager's entries (unstructured, as it
// leaves them in metadata.managedFields) into messages.
func managedFieldsOf(entries []any) ([]*metav1.ManagedFieldsEntry, error) {
	out := make([]*metav1.ManagedFieldsEntry, 0, len(entries))
	for i, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("entry %d is a %T, not an object", i, e)
		}
		entry := &metav1.ManagedFieldsEntry{
			Manager:     str(m["manager"]),
			Operation:   str(m["operation"]),
			ApiVersion:  str(m["apiVersion"]),
			FieldsType:  str(m["fieldsType"]),
			Subresource: str(m["subresource"]),
		}
		if t := str(m["time"]); t != "" {
			ts, err := time.Parse(time.RFC3339, t)
			if err != nil {
				return nil, fmt.Errorf("entry %d: time: %w", i, err)
			}
			entry.Time = timestamppb.New(ts)
		}
		if f, ok := m["fieldsV1"].(map[string]any); ok {
			s, err := structpb.NewStruct(f)
			if err != nil {
				return nil, fmt.Errorf("entry %d: fieldsV1: %w", i, err)
			}
			entry.FieldsV1 = s
		}
		out = append(out, entry)
	}
	return out, nil
}

// stripSet is what no manager ever owns (Kubernetes' field manager strips
// the same fields from every entry): identity and bookkeeping metadata.
var stripSet = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

// trackCreate is TrackObject for a create that brings no managedFields of
// its own, the common write: the field manager's answer there is one
// Update entry owning every field the object sets, less the stripped and
// reset ones, and that set is read off the typed object directly instead
// of through the manager's comparison with an empty object and its
// unstructured round trips (TestCreateFastPathMatchesFieldManager keeps
// the two equal).
func trackCreate(k *scheme.Kind, subresource string, next scheme.Object, manager string, now time.Time) (scheme.Object, error) {
	u, err := unstructuredOf(k, next)
	if err != nil {
		return nil, err
	}
	tv, err := typeConverterFor(k).ObjectToTyped(u, typed.AllowDuplicates)
	if err != nil {
		// As UpdateNoErrors: a field the schema lacks leaves the object
		// untracked rather than failing the write.
		return next, nil
	}
	empty, err := emptyTyped(k)
	if err != nil {
		return next, nil
	}
	// What an update from nothing adds: the fields and, for every map or
	// struct that is not atomic, the item itself (the "." entries).
	cmp, err := empty.Compare(tv)
	if err != nil {
		return next, nil
	}
	set := cmp.Added.Union(cmp.Modified)
	if reset := resetFields(k, subresource); reset != nil {
		set = reset[fieldpath.APIVersion(k.APIVersion())].Filter(set)
	}
	set = set.Difference(stripSet)
	if set.Empty() {
		return next, nil
	}
	raw, err := set.ToJSON()
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	// fieldsV1 holds only objects; encoding/json and NewStruct read it
	// several times faster than protojson's Struct decoding.
	var tree map[string]any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, apierrors.NewInternal(err)
	}
	fields, err := structpb.NewStruct(tree)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	scheme.Meta(next).ManagedFields = []*metav1.ManagedFieldsEntry{{
		Manager:     manager,
		Operation:   OperationUpdate,
		ApiVersion:  k.APIVersion(),
		Time:        timestamppb.New(now.UTC().Truncate(time.Second)),
		FieldsType:  "FieldsV1",
		FieldsV1:    fields,
		Subresource: subresource,
	}}
	return next, nil
}

// emptyTypes caches, per kind, the typed live object of a create: nothing
// but its kind (typed values are not changed by comparing them).
var emptyTypes sync.Map // "apps/v1/Deployment" -> *typed.TypedValue

func emptyTyped(k *scheme.Kind) (*typed.TypedValue, error) {
	key := k.APIVersion() + "/" + k.Kind
	if tv, ok := emptyTypes.Load(key); ok {
		return tv.(*typed.TypedValue), nil
	}
	u, err := unstructuredOf(k, nil)
	if err != nil {
		return nil, err
	}
	tv, err := typeConverterFor(k).ObjectToTyped(u, typed.AllowDuplicates)
	if err != nil {
		return nil, err
	}
	emptyTypes.Store(key, tv)
	return tv, nil
}

// typeConverterFor is the schema the field manager of kind k uses.
func typeConverterFor(k *scheme.Kind) managedfields.TypeConverter {
	if _, known := k8sObject(k); known {
		builtinTypesOnce.Do(func() { builtinTypes = applyconfigurations.NewTypeConverter(clientgoscheme.Scheme) })
		return builtinTypes
	}
	return deducedTypes
}
