package fields

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"minik8s/api/scheme"
)

// ObjectGetter returns a getter for Selector.Matches that reads obj's fields
// by dotted JSON path ("spec.nodeName", "status.phase", "metadata.name").
//
// It walks the message itself rather than its JSON form because the JSON
// omits zero values: here an unset bool reads "false" and an unset int "0",
// so "spec.unschedulable=false" selects nodes that never set it, as in
// Kubernetes. An unset string, or an unset message on the way, reads "".
// A string map field takes the rest of the path as one key
// ("metadata.labels.app.kubernetes.io/name"). A path that names no field,
// or that ends on a message or list, is reported as not found, which Matches
// treats as "".
func ObjectGetter(obj scheme.Object) func(path string) (string, bool) {
	return func(path string) (string, bool) {
		return lookup(obj.ProtoReflect(), path)
	}
}

func lookup(m protoreflect.Message, path string) (string, bool) {
	for {
		seg, rest, more := strings.Cut(path, ".")
		fields := m.Descriptor().Fields()
		fd := fields.ByName(protoreflect.Name(seg))
		if fd == nil {
			fd = fields.ByJSONName(seg)
		}
		if fd == nil {
			return "", false
		}
		switch {
		case fd.IsMap():
			if !more || fd.MapKey().Kind() != protoreflect.StringKind {
				return "", false
			}
			v := m.Get(fd).Map().Get(protoreflect.ValueOfString(rest).MapKey())
			if !v.IsValid() {
				return "", true
			}
			return scalar(fd.MapValue(), v)
		case fd.IsList():
			return "", false
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			if !more {
				return "", false
			}
			m, path = m.Get(fd).Message(), rest
		default:
			if more {
				return "", false
			}
			return scalar(fd, m.Get(fd))
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) (string, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String(), true
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool()), true
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10), true
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10), true
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64), true
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name()), true
		}
		return strconv.Itoa(int(v.Enum())), true
	}
	return "", false
}
