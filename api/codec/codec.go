// Package codec converts API objects between their protobuf messages and
// Kubernetes-shaped JSON and YAML. It is the one place that knows how our
// messages differ from what Kubernetes prints:
//
//   - int64 values are JSON numbers (protojson would write strings);
//   - minik8s.meta.v1.IntOrString is a bare number or a bare string;
//   - google.protobuf.Timestamp is an RFC 3339 string;
//   - google.protobuf.Struct/Value/ListValue are arbitrary JSON;
//   - fields marked (minik8s.meta.v1.quantity) accept a bare number;
//   - unset and zero-valued scalars are omitted, as `omitempty` does;
//   - unknown fields are errors that name their path (spec.containers[0].imagee).
//
// Field names are the proto field names, which are written as the Kubernetes
// JSON names.
package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"sigs.k8s.io/yaml"

	metav1 "minik8s/api/meta/v1"
)

const (
	intOrStringName = "minik8s.meta.v1.IntOrString"
	timestampName   = "google.protobuf.Timestamp"
	structName      = "google.protobuf.Struct"
	valueName       = "google.protobuf.Value"
	listValueName   = "google.protobuf.ListValue"
)

// FieldError is a decode failure at a field path.
type FieldError struct {
	Path   string // spec.containers[0].ports[0].containerPort
	Detail string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Detail
	}
	return e.Path + ": " + e.Detail
}

// MarshalJSON encodes m as compact Kubernetes-style JSON.
func MarshalJSON(m proto.Message) ([]byte, error) {
	var e encoder
	b := e.appendMessage(make([]byte, 0, 1024), m.ProtoReflect())
	if e.err != nil {
		return nil, e.err
	}
	return b, nil
}

// AppendJSON appends m's compact Kubernetes-style JSON (MarshalJSON's) to
// b, for writers that assemble a larger document (list and Table
// responses) without a copy per object.
func AppendJSON(b []byte, m proto.Message) ([]byte, error) {
	var e encoder
	out := e.appendMessage(b, m.ProtoReflect())
	if e.err != nil {
		return b, e.err
	}
	return out, nil
}

// AppendString appends s as a JSON string, escaped as MarshalJSON
// escapes strings (encoding/json's rules without HTML escaping).
func AppendString(b []byte, s string) []byte { return appendString(b, s) }

// MarshalIndentJSON encodes m as indented JSON, as `-o json` prints it.
func MarshalIndentJSON(m proto.Message) ([]byte, error) {
	j, err := MarshalJSON(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, j, "", "    "); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MarshalYAML encodes m as YAML, as `-o yaml` prints it.
func MarshalYAML(m proto.Message) ([]byte, error) {
	j, err := MarshalJSON(m)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(yamlReadable(j))
}

// yamlReadable escapes the characters JSON may carry raw but a YAML reader
// refuses or misreads (DEL and the C1 controls, NEL a line break to
// YAML 1.1; U+FFFE and U+FFFF), so a string holding one still prints as
// YAML. Outside strings JSON has only ASCII punctuation, so a rune-level
// rewrite touches string contents alone.
func yamlReadable(j []byte) []byte {
	if !bytes.ContainsFunc(j, yamlUnreadable) {
		return j
	}
	out := make([]byte, 0, len(j)+16)
	for _, r := range string(j) {
		if yamlUnreadable(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

func yamlUnreadable(r rune) bool {
	return r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfffe || r == 0xffff
}

// ToMap returns m as a generic JSON value tree (map[string]any, []any,
// string, json.Number, bool), for printers that walk fields by path.
func ToMap(m proto.Message) map[string]any {
	var e encoder // printers show what they can; errors are the writers'
	v, _ := e.toValue(m.ProtoReflect()).(orderedMap)
	out := make(map[string]any, len(v))
	for _, kv := range v {
		out[kv.key] = plain(kv.val, nil)
	}
	return out
}

// ToUnstructured returns m as the value tree Kubernetes' unstructured
// objects hold (map[string]any, []any, string, int64, float64, bool): the
// tree MarshalJSON writes, as k8s.io/apimachinery's JSON decoding would
// read it back (integral numbers as int64), without the text in between.
// It fails where MarshalJSON fails.
func ToUnstructured(m proto.Message) (map[string]any, error) {
	var e encoder
	v := e.toValue(m.ProtoReflect())
	if e.err != nil {
		return nil, e.err
	}
	out, _ := plain(v, unstructuredNumber).(map[string]any)
	return out, nil
}

// unstructuredNumber reads a number as apimachinery's JSON decoding does.
func unstructuredNumber(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return f
}

// UnmarshalJSON decodes Kubernetes-style JSON into m, strictly: unknown and
// duplicate fields are errors.
func UnmarshalJSON(data []byte, m proto.Message) error {
	v, err := parseJSON(data)
	if err != nil {
		return err
	}
	proto.Reset(m)
	return fromValue(v, m.ProtoReflect(), "")
}

// UnmarshalYAML decodes one YAML (or JSON) document into m, strictly.
func UnmarshalYAML(data []byte, m proto.Message) error {
	j, err := yamlToJSON(data)
	if err != nil {
		return err
	}
	return UnmarshalJSON(j, m)
}

// yamlToJSON converts one YAML document to JSON, rejecting duplicate keys.
// Strict go-yaml also rejects a key that overrides one brought in by a
// merge key (<<: *anchor), which is valid YAML, so a document using merge
// keys falls back to the lenient conversion.
func yamlToJSON(data []byte) ([]byte, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil && bytes.Contains(data, []byte("<<")) {
		// Only when no mapping repeats one of its own keys: "<<" in a
		// string must not switch the duplicate check off.
		if derr := explicitDuplicate(data); derr != nil {
			err = derr
		} else if lj, lerr := yaml.YAMLToJSON(data); lerr == nil {
			return lj, nil
		}
	}
	if err != nil {
		return nil, &FieldError{Detail: "invalid YAML: " + strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")}
	}
	return j, nil
}

// parseJSON reads one JSON value as a generic tree (numbers as json.Number),
// reporting duplicate object keys by path as Kubernetes' strict decoding does.
func parseJSON(data []byte) (any, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	if err := checkDuplicates(data); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeJSON reads exactly one JSON value as a generic tree (numbers as
// json.Number); a later duplicate key silently wins, so callers check
// with checkDuplicates, which needs valid JSON to scan.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &FieldError{Detail: "invalid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &FieldError{Detail: "invalid JSON: trailing data after the object"}
	}
	return v, nil
}

// checkDuplicates scans valid JSON for an object with a repeated key, which
// encoding/json silently resolves to the last value. It allocates only for
// the path of the error.
func checkDuplicates(data []byte) error {
	s := dupScanner{data: data}
	return s.value()
}

type dupScanner struct {
	data []byte
	pos  int
	keys [][]byte   // keys of the objects being scanned, innermost last
	path []pathElem // where the scan is, for the error
}

type pathElem struct {
	key   []byte
	index int // for an array element; key is nil
}

func (s *dupScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// str scans a string starting at its opening quote and returns its raw body.
func (s *dupScanner) str() []byte {
	s.pos++
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] != '"' {
		if s.data[s.pos] == '\\' {
			s.pos++
		}
		s.pos++
	}
	body := s.data[start:s.pos]
	s.pos++
	return body
}

func (s *dupScanner) value() error {
	s.ws()
	if s.pos >= len(s.data) {
		return nil
	}
	switch s.data[s.pos] {
	case '{':
		s.pos++
		base := len(s.keys)
		defer func() { s.keys = s.keys[:base] }()
		var set map[string]bool
		for {
			s.ws()
			switch s.data[s.pos] {
			case '}':
				s.pos++
				return nil
			case ',':
				s.pos++
				s.ws()
			}
			k := s.str()
			if n := len(s.keys) - base; n < 32 {
				for _, seen := range s.keys[base:] {
					if keysEqual(seen, k) {
						return s.duplicate(k)
					}
				}
			} else {
				// A big object (a large ConfigMap, Struct data): use a set.
				if n == 32 {
					set = make(map[string]bool, 64)
					for _, seen := range s.keys[base:] {
						set[unquote(seen)] = true
					}
				}
				name := unquote(k)
				if set[name] {
					return s.duplicate(k)
				}
				set[name] = true
			}
			s.keys = append(s.keys, k)
			s.ws()
			s.pos++ // ':'
			s.path = append(s.path, pathElem{key: k})
			if err := s.value(); err != nil {
				return err
			}
			s.path = s.path[:len(s.path)-1]
		}
	case '[':
		s.pos++
		for i := 0; ; i++ {
			s.ws()
			switch s.data[s.pos] {
			case ']':
				s.pos++
				return nil
			case ',':
				s.pos++
			}
			s.path = append(s.path, pathElem{index: i})
			if err := s.value(); err != nil {
				return err
			}
			s.path = s.path[:len(s.path)-1]
		}
	case '"':
		s.str()
	default: // number, true, false, null
		for s.pos < len(s.data) && !strings.ContainsRune(",]} \t\r\n", rune(s.data[s.pos])) {
			s.pos++
		}
	}
	return nil
}

func keysEqual(a, b []byte) bool {
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return bytes.Equal(a, b)
	}
	return unquote(a) == unquote(b)
}

func unquote(raw []byte) string {
	var s string
	_ = json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s)
	return s
}

func (s *dupScanner) duplicate(k []byte) error {
	path := ""
	for _, e := range s.path {
		if e.key == nil {
			path = fmt.Sprintf("%s[%d]", path, e.index)
		} else {
			path = join(path, unquote(e.key))
		}
	}
	name := unquote(k)
	return &FieldError{Path: join(path, name), Detail: "duplicate field " + strconv.Quote(name)}
}

// FromMap decodes a generic JSON value tree into m, strictly.
func FromMap(v map[string]any, m proto.Message) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return UnmarshalJSON(j, m)
}

// ---- encoding ----

// orderedMap keeps proto field order in output, as Kubernetes keeps Go
// struct order (apiVersion, kind, metadata, spec, status).
type orderedMap []kv

type kv struct {
	key string
	val any
}

func (o orderedMap) MarshalJSON() ([]byte, error) { return appendValue(nil, o), nil }

// plain turns an encoder tree into plain maps and slices; number, when
// set, replaces each json.Number.
func plain(v any, number func(json.Number) any) any {
	switch t := v.(type) {
	case orderedMap:
		out := make(map[string]any, len(t))
		for _, e := range t {
			out[e.key] = plain(e.val, number)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i := range t {
			out[i] = plain(t[i], number)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = plain(e, number)
		}
		return out
	case json.Number:
		if number != nil {
			return number(t)
		}
		return v
	default:
		return v
	}
}

func (e *encoder) toValue(m protoreflect.Message) any {
	switch m.Descriptor().FullName() {
	case intOrStringName:
		fs := m.Descriptor().Fields()
		if m.Get(fs.ByName("type")).Int() == 1 {
			return m.Get(fs.ByName("strVal")).String()
		}
		return json.Number(strconv.FormatInt(m.Get(fs.ByName("intVal")).Int(), 10))
	case timestampName:
		return e.formatTime(m, false)
	case structName, valueName, listValueName:
		return e.structToAny(m)
	}
	out := orderedMap{}
	fields := m.Descriptor().Fields()
	req := requiredFields(m.Descriptor())
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			if req != nil && req[i] {
				out = append(out, kv{fd.TextName(), e.scalarOrMessage(fd, fd.Default())})
			}
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			arr := make([]any, l.Len())
			for j := 0; j < l.Len(); j++ {
				arr[j] = e.scalarOrMessage(fd, l.Get(j))
			}
			out = append(out, kv{fd.TextName(), arr})
		case fd.IsMap():
			mp := map[string]any{}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				mp[k.String()] = e.scalarOrMessage(fd.MapValue(), mv)
				return true
			})
			out = append(out, kv{fd.TextName(), mp})
		default:
			out = append(out, kv{fd.TextName(), e.scalarOrMessage(fd, v)})
		}
	}
	return out
}

// microTimeFields are the Timestamp fields that are metav1.MicroTime in
// Kubernetes, which always prints six fractional digits.
var microTimeFields = map[protoreflect.FullName]bool{
	"minik8s.coordination.v1.LeaseSpec.acquireTime": true,
	"minik8s.coordination.v1.LeaseSpec.renewTime":   true,
	"minik8s.core.v1.Event.eventTime":               true,
	"minik8s.core.v1.EventSeries.lastObservedTime":  true,
}

// formatTime prints a Timestamp as RFC 3339 in UTC: whole seconds like
// metav1.Time, six digits like metav1.MicroTime when micro is set or the
// time has microseconds, nine digits rather than lose precision.
func (e *encoder) formatTime(m protoreflect.Message, micro bool) string {
	fs := m.Descriptor().Fields()
	sec, nanos := m.Get(fs.ByName("seconds")).Int(), m.Get(fs.ByName("nanos")).Int()
	if d := TimeProblem(sec, nanos); d != "" {
		e.fail(d)
	}
	t := time.Unix(sec, nanos).UTC()
	switch {
	case t.Nanosecond()%1000 != 0:
		return t.Format("2006-01-02T15:04:05.000000000Z07:00")
	case micro || t.Nanosecond() != 0:
		return t.Format("2006-01-02T15:04:05.000000Z07:00")
	}
	return t.Format(time.RFC3339)
}

func (e *encoder) scalarOrMessage(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if microTimeFields[fd.FullName()] {
			return e.formatTime(v.Message(), true)
		}
		return e.toValue(v.Message())
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.EnumKind:
		return json.Number(strconv.FormatInt(int64(v.Enum()), 10))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if math.IsNaN(v.Float()) || math.IsInf(v.Float(), 0) {
			e.fail(NonFinite)
			return json.Number("0")
		}
		return json.Number(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return json.Number(strconv.FormatUint(v.Uint(), 10))
	default:
		return json.Number(strconv.FormatInt(v.Int(), 10))
	}
}

// structToAny converts google.protobuf.Struct/Value/ListValue to plain JSON.
func (e *encoder) structToAny(m protoreflect.Message) any {
	fs := m.Descriptor().Fields()
	switch m.Descriptor().FullName() {
	case structName:
		out := map[string]any{}
		m.Get(fs.ByName("fields")).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			out[k.String()] = e.structToAny(v.Message())
			return true
		})
		return out
	case listValueName:
		l := m.Get(fs.ByName("values")).List()
		out := make([]any, l.Len())
		for i := range out {
			out[i] = e.structToAny(l.Get(i).Message())
		}
		return out
	}
	od := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
	if od == nil {
		return nil
	}
	v := m.Get(od)
	switch od.Name() {
	case "number_value":
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			e.fail(NonFinite)
			return json.Number("0")
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return json.Number(strconv.FormatInt(int64(f), 10))
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	case "string_value":
		return v.String()
	case "bool_value":
		return v.Bool()
	case "struct_value", "list_value":
		return e.structToAny(v.Message())
	}
	return nil
}

// ---- decoding ----

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func fromValue(v any, m protoreflect.Message, path string) error {
	switch m.Descriptor().FullName() {
	case structName, valueName, listValueName:
		return anyToStruct(v, m, path)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return &FieldError{Path: path, Detail: "expected an object, got " + typeName(v)}
	}
	fields := m.Descriptor().Fields()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fd := fields.ByTextName(k)
		if fd == nil {
			return &FieldError{Path: join(path, k), Detail: "unknown field " + strconv.Quote(k)}
		}
		val := obj[k]
		if val == nil {
			continue // null means unset, as in Kubernetes
		}
		fp := join(path, k)
		switch {
		case fd.IsList():
			arr, ok := val.([]any)
			if !ok {
				return &FieldError{Path: fp, Detail: "expected an array, got " + typeName(val)}
			}
			l := m.Mutable(fd).List()
			for i, e := range arr {
				ep := fmt.Sprintf("%s[%d]", fp, i)
				if fd.Kind() == protoreflect.MessageKind {
					em := l.NewElement()
					if err := fromField(e, fd, em.Message(), ep); err != nil {
						return err
					}
					l.Append(em)
					continue
				}
				sv, err := scalar(e, fd, ep)
				if err != nil {
					return err
				}
				l.Append(sv)
			}
		case fd.IsMap():
			obj, ok := val.(map[string]any)
			if !ok {
				return &FieldError{Path: fp, Detail: "expected an object, got " + typeName(val)}
			}
			mp := m.Mutable(fd).Map()
			vd := fd.MapValue()
			mkeys := make([]string, 0, len(obj))
			for mk := range obj {
				mkeys = append(mkeys, mk)
			}
			sort.Strings(mkeys) // report the first bad entry deterministically
			for _, mk := range mkeys {
				mv := obj[mk]
				ep := fp + "[" + mk + "]"
				key := protoreflect.ValueOfString(mk).MapKey()
				if vd.Kind() == protoreflect.MessageKind {
					em := mp.NewValue()
					if err := fromField(mv, vd, em.Message(), ep); err != nil {
						return err
					}
					mp.Set(key, em)
					continue
				}
				if mv == nil {
					mv = ""
				}
				sv, err := scalarWithOpts(mv, vd, fd, ep)
				if err != nil {
					return err
				}
				mp.Set(key, sv)
			}
		case fd.Kind() == protoreflect.MessageKind:
			sub := m.Mutable(fd).Message()
			if err := fromField(val, fd, sub, fp); err != nil {
				return err
			}
		default:
			sv, err := scalar(val, fd, fp)
			if err != nil {
				return err
			}
			m.Set(fd, sv)
		}
	}
	return nil
}

// fromField decodes a message-typed value, handling the special messages.
func fromField(v any, fd protoreflect.FieldDescriptor, m protoreflect.Message, path string) error {
	fs := m.Descriptor().Fields()
	switch m.Descriptor().FullName() {
	case intOrStringName:
		switch t := v.(type) {
		case json.Number:
			n, err := strconv.ParseInt(string(t), 10, 32)
			if err != nil {
				return &FieldError{Path: path, Detail: "expected an integer or a string, got " + string(t)}
			}
			m.Set(fs.ByName("type"), protoreflect.ValueOfInt32(0))
			m.Set(fs.ByName("intVal"), protoreflect.ValueOfInt32(int32(n)))
		case string:
			m.Set(fs.ByName("type"), protoreflect.ValueOfInt32(1))
			m.Set(fs.ByName("strVal"), protoreflect.ValueOfString(t))
		default:
			return &FieldError{Path: path, Detail: "expected an integer or a string, got " + typeName(v)}
		}
		return nil
	case timestampName:
		s, ok := v.(string)
		if !ok {
			return &FieldError{Path: path, Detail: "expected an RFC 3339 time string, got " + typeName(v)}
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return &FieldError{Path: path, Detail: fmt.Sprintf("invalid time %q: want RFC 3339 like 2006-01-02T15:04:05Z", s)}
		}
		// Year 0000, or 9999-12-31 with a negative offset, parses but
		// could not be written back.
		if d := TimeProblem(t.Unix(), int64(t.Nanosecond())); d != "" {
			return &FieldError{Path: path, Detail: fmt.Sprintf("invalid time %q: %s", s, d)}
		}
		m.Set(fs.ByName("seconds"), protoreflect.ValueOfInt64(t.Unix()))
		m.Set(fs.ByName("nanos"), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
		return nil
	}
	return fromValue(v, m, path)
}

// required caches, per message, which fields carry the
// (minik8s.meta.v1.required) option (nil: none), so encoding reads the
// options once per message type, not once per field written.
var required sync.Map // protoreflect.FullName -> []bool

// requiredFields reports, by field index, the scalar fields of md that are
// written even when zero, as Kubernetes writes fields without omitempty.
func requiredFields(md protoreflect.MessageDescriptor) []bool {
	if v, ok := required.Load(md.FullName()); ok {
		return v.([]bool)
	}
	var req []bool
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		opts := fd.Options()
		if opts == nil || fd.IsList() || fd.IsMap() || fd.Message() != nil {
			continue
		}
		if b, _ := proto.GetExtension(opts, metav1.E_Required).(bool); b {
			if req == nil {
				req = make([]bool, fields.Len())
			}
			req[i] = true
		}
	}
	required.Store(md.FullName(), req)
	return req
}

func isQuantity(fd protoreflect.FieldDescriptor) bool {
	opts := fd.Options()
	if opts == nil {
		return false
	}
	b, _ := proto.GetExtension(opts, metav1.E_Quantity).(bool)
	return b
}

func scalar(v any, fd protoreflect.FieldDescriptor, path string) (protoreflect.Value, error) {
	return scalarWithOpts(v, fd, fd, path)
}

// scalarWithOpts converts v for field fd; optsFrom carries the field options
// (for a map value, the map field's).
func scalarWithOpts(v any, fd, optsFrom protoreflect.FieldDescriptor, path string) (protoreflect.Value, error) {
	bad := func(want string) (protoreflect.Value, error) {
		return protoreflect.Value{}, &FieldError{Path: path, Detail: fmt.Sprintf("expected %s, got %s", want, typeName(v))}
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		switch t := v.(type) {
		case string:
			return protoreflect.ValueOfString(t), nil
		case json.Number:
			if isQuantity(optsFrom) {
				return protoreflect.ValueOfString(string(t)), nil
			}
		}
		return bad("a string")
	case protoreflect.BoolKind:
		if b, ok := v.(bool); ok {
			return protoreflect.ValueOfBool(b), nil
		}
		return bad("a boolean")
	case protoreflect.BytesKind:
		s, ok := v.(string)
		if !ok {
			return bad("a base64 string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return protoreflect.Value{}, &FieldError{Path: path, Detail: "invalid base64 data"}
		}
		return protoreflect.ValueOfBytes(b), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		n, ok := v.(json.Number)
		if !ok {
			return bad("a number")
		}
		f, err := n.Float64()
		if err != nil {
			return bad("a number")
		}
		if fd.Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(f)), nil
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := intOf(v, 32)
		if err != nil {
			return protoreflect.Value{}, &FieldError{Path: path, Detail: err.Error()}
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := intOf(v, 64)
		if err != nil {
			return protoreflect.Value{}, &FieldError{Path: path, Detail: err.Error()}
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := intOf(v, 64)
		if err != nil || n < 0 {
			return bad("a non-negative integer")
		}
		if fd.Kind() == protoreflect.Uint32Kind || fd.Kind() == protoreflect.Fixed32Kind {
			return protoreflect.ValueOfUint32(uint32(n)), nil
		}
		return protoreflect.ValueOfUint64(uint64(n)), nil
	case protoreflect.EnumKind:
		n, err := intOf(v, 32)
		if err != nil {
			return protoreflect.Value{}, &FieldError{Path: path, Detail: err.Error()}
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	}
	return bad(fd.Kind().String())
}

func intOf(v any, bits int) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("expected an integer, got %s", typeName(v))
	}
	s := string(n)
	i, err := strconv.ParseInt(s, 10, bits)
	if err == nil {
		return i, nil
	}
	outOfRange := fmt.Errorf("integer %s is out of range for int%d", s, bits)
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return 0, outOfRange
	}
	// Accept whole numbers written as floats (3.0, 1e3).
	f, ferr := n.Float64()
	if ferr != nil || f != math.Trunc(f) {
		return 0, fmt.Errorf("expected an integer, got %s", s)
	}
	// -2^(bits-1) <= f < 2^(bits-1); both bounds are exact in a float64.
	limit := math.Ldexp(1, bits-1)
	if f < -limit || f >= limit {
		return 0, outOfRange
	}
	return int64(f), nil
}

// anyToStruct fills a google.protobuf.Struct/Value/ListValue from plain JSON.
func anyToStruct(v any, m protoreflect.Message, path string) error {
	fs := m.Descriptor().Fields()
	switch m.Descriptor().FullName() {
	case structName:
		obj, ok := v.(map[string]any)
		if !ok {
			return &FieldError{Path: path, Detail: "expected an object, got " + typeName(v)}
		}
		mp := m.Mutable(fs.ByName("fields")).Map()
		for k, e := range obj {
			ev := mp.NewValue()
			if err := anyToStruct(e, ev.Message(), join(path, k)); err != nil {
				return err
			}
			mp.Set(protoreflect.ValueOfString(k).MapKey(), ev)
		}
		return nil
	case listValueName:
		arr, ok := v.([]any)
		if !ok {
			return &FieldError{Path: path, Detail: "expected an array, got " + typeName(v)}
		}
		l := m.Mutable(fs.ByName("values")).List()
		for i, e := range arr {
			ev := l.NewElement()
			if err := anyToStruct(e, ev.Message(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
			l.Append(ev)
		}
		return nil
	}
	switch t := v.(type) {
	case nil:
		m.Set(fs.ByName("null_value"), protoreflect.ValueOfEnum(0))
	case bool:
		m.Set(fs.ByName("bool_value"), protoreflect.ValueOfBool(t))
	case string:
		m.Set(fs.ByName("string_value"), protoreflect.ValueOfString(t))
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return &FieldError{Path: path, Detail: "invalid number " + string(t)}
		}
		m.Set(fs.ByName("number_value"), protoreflect.ValueOfFloat64(f))
	case map[string]any:
		return anyToStruct(t, m.Mutable(fs.ByName("struct_value")).Message(), path)
	case []any:
		return anyToStruct(t, m.Mutable(fs.ByName("list_value")).Message(), path)
	default:
		return &FieldError{Path: path, Detail: "unsupported value " + typeName(v)}
	}
	return nil
}

// YAMLToJSON converts one YAML document to JSON, rejecting duplicate keys.
func YAMLToJSON(data []byte) ([]byte, error) { return yamlToJSON(data) }
