package codec

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// UnknownProtoFields lists the fields of a decoded protobuf message that
// its type does not declare ("spec.containers[0]: field number 99"). The
// JSON decoder refuses unknown fields; protobuf would keep them silently,
// in the object but not in its JSON - so the gRPC front refuses them too.
func UnknownProtoFields(m proto.Message) []string {
	var out []string
	walkUnknown(m.ProtoReflect(), "", &out)
	return out
}

func walkUnknown(m protoreflect.Message, path string, out *[]string) {
	if raw := m.GetUnknown(); len(raw) > 0 {
		where := path
		if where == "" {
			where = "<root>"
		}
		*out = append(*out, fmt.Sprintf("%s: unknown field(s) in %s (%d bytes)", where, m.Descriptor().FullName(), len(raw)))
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		p := join(path, fd.TextName())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkUnknown(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i), out)
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					walkUnknown(mv.Message(), p+"["+k.String()+"]", out)
					return true
				})
			}
		default:
			walkUnknown(v.Message(), p, out)
		}
		return true
	})
}
