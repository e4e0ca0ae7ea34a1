package codec

import (
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
)

// UnmarshalJSONLenient decodes like UnmarshalJSON but drops unknown and
// duplicate fields instead of failing, returning one warning for each in
// Kubernetes' words (`unknown field "spec.foo"`), for a server asked for
// fieldValidation=Warn or Ignore. Every other error is still an error.
func UnmarshalJSONLenient(data []byte, m proto.Message) (warnings []string, err error) {
	// The duplicate scanner trusts its input to be valid JSON: parse first.
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	if err := checkDuplicates(data); err != nil {
		if fe, ok := err.(*FieldError); ok {
			warnings = append(warnings, "duplicate field "+strconv.Quote(fe.Path))
		}
	}
	// Each pass drops the first unknown field the strict decoder reports.
	for pass := 0; pass < 1000; pass++ {
		proto.Reset(m)
		err := fromValue(v, m.ProtoReflect(), "")
		fe, ok := err.(*FieldError)
		if !ok || !strings.HasPrefix(fe.Detail, "unknown field ") || !dropPath(v, fe.Path) {
			return warnings, err
		}
		warnings = append(warnings, "unknown field "+strconv.Quote(fe.Path))
	}
	return warnings, &FieldError{Detail: "too many unknown fields"}
}

var segment = regexp.MustCompile(`^([^.\[]+)((?:\[\d+\])*)`)

// dropPath deletes the field at path ("spec.containers[0].imagee") from
// a generic JSON tree; it reports whether it found it.
func dropPath(v any, path string) bool {
	for path != "" {
		m := segment.FindStringSubmatch(path)
		if m == nil {
			return false
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return false
		}
		path = strings.TrimPrefix(path[len(m[0]):], ".")
		if path == "" && m[2] == "" {
			if _, ok := obj[m[1]]; !ok {
				return false
			}
			delete(obj, m[1])
			return true
		}
		v = obj[m[1]]
		for _, idx := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
			list, ok := v.([]any)
			i, _ := strconv.Atoi(idx)
			if !ok || i >= len(list) {
				return false
			}
			v = list[i]
		}
	}
	return false
}
