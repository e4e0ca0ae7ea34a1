package openapi

import (
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	metav1 "minik8s/api/meta/v1"
)

// schema is one OpenAPI schema, the common ground of Swagger 2.0 and
// OpenAPI 3.0; v2.go and v3.go render it in each dialect.
type schema struct {
	// Ref names a definition ("io.k8s.api.core.v1.PodSpec"). A property
	// with a Ref may still carry a Description and Extensions of its own,
	// as Kubernetes' documents do.
	Ref                  string
	Description          string
	Type                 string
	Format               string
	Items                *schema
	AdditionalProperties *schema
	Properties           map[string]*schema
	Required             []string
	// OneOfV3 replaces Type in OpenAPI 3 (IntOrString, Quantity), where
	// Kubernetes spells out the alternatives that Swagger 2.0 cannot.
	OneOfV3    []*schema
	Extensions ext
}

// Names of the definitions that are not messages of ours, as Kubernetes
// names them.
const (
	metaPrefix         = "io.k8s.apimachinery.pkg.apis.meta.v1."
	defTime            = metaPrefix + "Time"
	defMicroTime       = metaPrefix + "MicroTime"
	defObjectMeta      = metaPrefix + "ObjectMeta"
	defListMeta        = metaPrefix + "ListMeta"
	defStatus          = metaPrefix + "Status"
	defDeleteOptions   = metaPrefix + "DeleteOptions"
	defPatch           = metaPrefix + "Patch"
	defWatchEvent      = metaPrefix + "WatchEvent"
	defIntOrString     = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
	defQuantity        = "io.k8s.apimachinery.pkg.api.resource.Quantity"
	defRawExtension    = "io.k8s.apimachinery.pkg.runtime.RawExtension"
	defAPIResource     = metaPrefix + "APIResource"
	defAPIResourceList = metaPrefix + "APIResourceList"
	defScale           = "io.k8s.api.autoscaling.v1.Scale"
	defScaleSpec       = "io.k8s.api.autoscaling.v1.ScaleSpec"
	defScaleStatus     = "io.k8s.api.autoscaling.v1.ScaleStatus"
	gvkExtension       = "x-kubernetes-group-version-kind"
	actionExtension    = "x-kubernetes-action"
	protoIntOrString   = "minik8s.meta.v1.IntOrString"
	protoTimestamp     = "google.protobuf.Timestamp"
	protoStruct        = "google.protobuf.Struct"
	protoValue         = "google.protobuf.Value"
	protoListValue     = "google.protobuf.ListValue"
	protoMetaPackage   = "minik8s.meta.v1"
	protoPackageStart  = "minik8s."
)

// definitionName is the Kubernetes name of a message's definition:
// minik8s.core.v1.Pod is io.k8s.api.core.v1.Pod, minik8s.meta.v1.ListMeta
// is io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta.
func definitionName(m protoreflect.MessageDescriptor) string {
	switch m.FullName() {
	case protoIntOrString:
		return defIntOrString
	case protoTimestamp:
		return defTime
	case protoStruct:
		return defRawExtension
	}
	pkg := string(m.ParentFile().Package())
	if pkg == protoMetaPackage {
		return metaPrefix + string(m.Name())
	}
	return "io.k8s.api." + strings.TrimPrefix(pkg, protoPackageStart) + "." + string(m.Name())
}

// builder turns message descriptors into definitions.
type builder struct {
	descriptions map[string]string
	defs         map[string]*schema
}

// message adds the definition of m and of every message it reaches, and
// returns m's definition name.
func (b *builder) message(m protoreflect.MessageDescriptor) string {
	name := definitionName(m)
	if _, done := b.defs[name]; done {
		return name
	}
	switch m.FullName() {
	case protoIntOrString, protoTimestamp, protoStruct:
		b.defs[name] = wellKnown[name]()
		return name
	}
	s := &schema{
		Type:        "object",
		Description: b.descriptions[string(m.FullName())],
		Properties:  map[string]*schema{},
	}
	b.defs[name] = s // before the fields: messages may refer to themselves
	r := conventions[string(m.FullName())]
	s.Required = r.required
	s.Extensions = r.ext
	fields := m.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		p := b.field(fd)
		if p.Description == "" {
			p.Description = b.descriptions[string(fd.FullName())]
		}
		if p.Description == "" {
			p.Description = metaDescriptions[string(fd.FullName())]
		}
		if p.Description == "" {
			p.Description = b.fallbackDescription(fd)
		}
		if e := r.fields[string(fd.Name())]; e != nil {
			p.Extensions = e
		}
		s.Properties[string(fd.Name())] = p
	}
	return name
}

// field is the schema of one field's value.
func (b *builder) field(fd protoreflect.FieldDescriptor) *schema {
	if fd.IsMap() {
		return &schema{Type: "object", AdditionalProperties: b.value(fd.MapValue(), isQuantity(fd), false)}
	}
	v := b.value(fd, isQuantity(fd), microTimeFields[string(fd.FullName())])
	if fd.IsList() {
		return &schema{Type: "array", Items: v}
	}
	return v
}

// value is the schema of one (non-repeated) value of fd's type.
func (b *builder) value(fd protoreflect.FieldDescriptor, quantity, microTime bool) *schema {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch fd.Message().FullName() {
		case protoValue:
			return &schema{Extensions: ext{"x-kubernetes-preserve-unknown-fields": true}}
		case protoListValue:
			return &schema{Type: "array", Items: &schema{}}
		case protoTimestamp:
			if microTime {
				return &schema{Ref: defMicroTime}
			}
		}
		return &schema{Ref: b.message(fd.Message())}
	case protoreflect.StringKind:
		if quantity {
			return &schema{Ref: defQuantity}
		}
		return &schema{Type: "string"}
	case protoreflect.EnumKind:
		return &schema{Type: "string"}
	case protoreflect.BytesKind:
		return &schema{Type: "string", Format: "byte"}
	case protoreflect.BoolKind:
		return &schema{Type: "boolean"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return &schema{Type: "integer", Format: "int32"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &schema{Type: "integer", Format: "int64"}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return &schema{Type: "number", Format: "double"}
	}
	return &schema{}
}

// isQuantity reports the (minik8s.meta.v1.quantity) option, as api/codec does.
func isQuantity(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil {
		return false
	}
	q, _ := proto.GetExtension(opts, metav1.E_Quantity).(bool)
	return q
}

// fallbackDescription describes a field without a comment: the fields
// every kind shares have Kubernetes' meanings. (A field holding a message
// is left without one: kubectl explain prints the message's description
// after the field's, and would print it twice.)
func (b *builder) fallbackDescription(fd protoreflect.FieldDescriptor) string {
	owner := fd.ContainingMessage()
	if owner.Fields().ByName("apiVersion") == nil || owner.Fields().ByName("kind") == nil {
		return ""
	}
	return topLevelFields[string(fd.Name())]
}

// topLevelFields describe the fields every kind has, in Kubernetes' sense.
var topLevelFields = map[string]string{
	"apiVersion": "APIVersion is the versioned schema of this object: group/version, or v1 for the core group. The server rejects versions it does not serve.",
	"kind":       "Kind is the type of this object in CamelCase. The server can infer it from the endpoint a request is sent to; it cannot be updated.",
	"metadata":   "Standard object metadata: name, namespace, labels, annotations, owner references, and the fields the system maintains (uid, resourceVersion, creationTimestamp, ...).",
	"spec":       "Desired state of the object, written by its user.",
	"status":     "Most recently observed state of the object, written by the system. Read-only to users; it may lag behind the spec.",
}

// sortedKeys returns a map's keys in order, for deterministic documents.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
