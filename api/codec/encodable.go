package codec

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The range of RFC 3339 timestamps, which is what JSON carries: years
// 0001 to 9999 (google.protobuf.Timestamp's own range).
const (
	minTimeSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxTimeSeconds = 253402300799 // 9999-12-31T23:59:59Z
)

// NonFinite is the problem of a NaN or infinite number: JSON has no
// spelling for them.
const NonFinite = "must be a finite number (JSON cannot represent NaN or Infinity)"

// TimeProblem says why a Timestamp cannot be written as RFC 3339 JSON
// and read back ("" when it can).
func TimeProblem(seconds, nanos int64) string {
	if seconds < minTimeSeconds || seconds > maxTimeSeconds {
		return fmt.Sprintf("timestamp %d s is outside years 0001-9999", seconds)
	}
	if nanos < 0 || nanos >= 1e9 {
		return fmt.Sprintf("timestamp nanos %d must be in [0, 999999999]", nanos)
	}
	return ""
}

// encoder turns a message into a JSON value tree; err records the first
// value JSON cannot carry, so the codec never writes what it cannot read.
type encoder struct{ err error }

func (e *encoder) fail(detail string) {
	if e.err == nil {
		e.err = errors.New("cannot encode as JSON: " + detail)
	}
}

// Unencodable lists the fields of m that JSON cannot carry back (NaN and
// infinite numbers, timestamps outside years 0001-9999), by field path as
// the JSON names it ("spec.renewTime"). The apiserver refuses such objects,
// so nothing is stored that it cannot read again.
func Unencodable(m proto.Message) []*FieldError {
	var out []*FieldError
	walkUnencodable(m.ProtoReflect(), "", &out)
	return out
}

func walkUnencodable(m protoreflect.Message, path string, out *[]*FieldError) {
	switch m.Descriptor().FullName() {
	case timestampName:
		fs := m.Descriptor().Fields()
		if d := TimeProblem(m.Get(fs.ByName("seconds")).Int(), m.Get(fs.ByName("nanos")).Int()); d != "" {
			*out = append(*out, &FieldError{Path: path, Detail: d})
		}
		return
	case valueName:
		if od := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind")); od != nil && od.Name() == "number_value" {
			if f := m.Get(od).Float(); math.IsNaN(f) || math.IsInf(f, 0) {
				*out = append(*out, &FieldError{Path: path, Detail: NonFinite})
			}
			return
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := join(path, fd.TextName())
		if m.Descriptor().FullName() == structName || m.Descriptor().FullName() == valueName || m.Descriptor().FullName() == listValueName {
			p = path // the fields of Struct/Value/ListValue are not in the JSON
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				checkValue(fd, l.Get(i), fmt.Sprintf("%s[%d]", p, i), out)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				checkValue(fd.MapValue(), mv, p+"["+k.String()+"]", out)
				return true
			})
		default:
			checkValue(fd, v, p, out)
		}
		return true
	})
}

func checkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string, out *[]*FieldError) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		walkUnencodable(v.Message(), path, out)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if math.IsNaN(v.Float()) || math.IsInf(v.Float(), 0) {
			*out = append(*out, &FieldError{Path: path, Detail: NonFinite})
		}
	}
}
