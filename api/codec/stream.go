package codec

import (
	"encoding/base64"
	"math"
	"slices"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// appendMessage writes m as compact JSON straight into b: the text
// appendValue(b, e.toValue(m)) gives, without the value tree in between.
// Building that tree (an orderedMap per message, a map per map field and
// per google.protobuf.Struct, a boxed value per scalar) was most of the
// cost of every list, Table and watch response; managedFields, a Struct
// of many small objects on every object, made it the larger part.
func (e *encoder) appendMessage(b []byte, m protoreflect.Message) []byte {
	md := m.Descriptor()
	switch md.FullName() {
	case intOrStringName:
		fs := md.Fields()
		if m.Get(fs.ByName("type")).Int() == 1 {
			return appendString(b, m.Get(fs.ByName("strVal")).String())
		}
		return strconv.AppendInt(b, m.Get(fs.ByName("intVal")).Int(), 10)
	case timestampName:
		return appendString(b, e.formatTime(m, false))
	case structName, valueName, listValueName:
		return e.appendStruct(b, m)
	}
	b = append(b, '{')
	fields := md.Fields()
	req := requiredFields(md)
	first := true
	key := func(fd protoreflect.FieldDescriptor) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, fd.TextName())
		b = append(b, ':')
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			if req != nil && req[i] {
				key(fd)
				b = e.appendField(b, fd, fd.Default())
			}
			continue
		}
		v := m.Get(fd)
		key(fd)
		switch {
		case fd.IsList():
			l := v.List()
			b = append(b, '[')
			for j := 0; j < l.Len(); j++ {
				if j > 0 {
					b = append(b, ',')
				}
				b = e.appendField(b, fd, l.Get(j))
			}
			b = append(b, ']')
		case fd.IsMap():
			b = e.appendMap(b, fd.MapValue(), v.Map())
		default:
			b = e.appendField(b, fd, v)
		}
	}
	return append(b, '}')
}

// appendMap writes a map field as a JSON object with its keys sorted, as
// encoding/json sorts a map's keys.
func (e *encoder) appendMap(b []byte, vd protoreflect.FieldDescriptor, mp protoreflect.Map) []byte {
	type entry struct {
		key string
		val protoreflect.Value
	}
	entries := make([]entry, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		entries = append(entries, entry{k.String(), v})
		return true
	})
	slices.SortFunc(entries, func(a, b entry) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	b = append(b, '{')
	for i, en := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, en.key)
		b = append(b, ':')
		b = e.appendField(b, vd, en.val)
	}
	return append(b, '}')
}

// appendField writes one value of field fd (scalarOrMessage's value).
func (e *encoder) appendField(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if microTimeFields[fd.FullName()] {
			return appendString(b, e.formatTime(v.Message(), true))
		}
		return e.appendMessage(b, v.Message())
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool())
	case protoreflect.StringKind:
		return appendString(b, v.String())
	case protoreflect.BytesKind:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"')
	case protoreflect.EnumKind:
		return strconv.AppendInt(b, int64(v.Enum()), 10)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			e.fail(NonFinite)
			return append(b, '0')
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(b, v.Uint(), 10)
	default:
		return strconv.AppendInt(b, v.Int(), 10)
	}
}

// appendStruct writes a google.protobuf.Struct, Value or ListValue as the
// plain JSON it holds. The generated types are read directly rather than
// through reflection: managedFields' fieldsV1 is such a tree on every
// object.
func (e *encoder) appendStruct(b []byte, m protoreflect.Message) []byte {
	switch t := m.Interface().(type) {
	case *structpb.Struct:
		return e.appendPBStruct(b, t)
	case *structpb.ListValue:
		return e.appendPBList(b, t)
	case *structpb.Value:
		return e.appendPBValue(b, t)
	}
	// Another implementation of the well-known types (dynamicpb).
	return appendValue(b, e.structToAny(m))
}

func (e *encoder) appendPBStruct(b []byte, s *structpb.Struct) []byte {
	fields := s.GetFields()
	if len(fields) == 0 {
		return append(b, "{}"...)
	}
	var stack [16]string
	keys := stack[:0]
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = e.appendPBValue(b, fields[k])
	}
	return append(b, '}')
}

func (e *encoder) appendPBList(b []byte, l *structpb.ListValue) []byte {
	b = append(b, '[')
	for i, v := range l.GetValues() {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.appendPBValue(b, v)
	}
	return append(b, ']')
}

// appendPBValue writes one google.protobuf.Value as structToAny reads it:
// integral numbers below 1e15 without a fraction, a Value of no kind as
// null.
func (e *encoder) appendPBValue(b []byte, v *structpb.Value) []byte {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if math.IsNaN(f) || math.IsInf(f, 0) {
			e.fail(NonFinite)
			return append(b, '0')
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return strconv.AppendInt(b, int64(f), 10)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case *structpb.Value_StringValue:
		return appendString(b, k.StringValue)
	case *structpb.Value_BoolValue:
		return strconv.AppendBool(b, k.BoolValue)
	case *structpb.Value_StructValue:
		return e.appendPBStruct(b, k.StructValue)
	case *structpb.Value_ListValue:
		return e.appendPBList(b, k.ListValue)
	}
	return append(b, "null"...)
}
