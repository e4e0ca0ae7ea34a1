package codec

import (
	"bytes"
	"fmt"
	"strings"

	"minik8s/api/scheme"
)

// DocumentError is a decode failure in one document of a multi-document
// stream. It wraps the underlying error (often a *FieldError).
type DocumentError struct {
	Number int // 1-based position among the non-empty documents
	Line   int // 1-based line of the stream where the document starts
	Err    error
}

func (e *DocumentError) Error() string {
	return fmt.Sprintf("document %d (line %d): %v", e.Number, e.Line, e.Err)
}

func (e *DocumentError) Unwrap() error { return e.Err }

// DecodeObject decodes one JSON or YAML document into the registered kind
// its apiVersion and kind name, strictly. A List, or a stream of several
// documents, is an error: use DecodeObjects.
func DecodeObject(data []byte) (scheme.Object, *scheme.Kind, error) {
	docs := splitDocuments(data)
	switch len(docs) {
	case 0:
		return nil, nil, &FieldError{Detail: "no object in input"}
	case 1:
	default:
		return nil, nil, &FieldError{Detail: fmt.Sprintf("expected one document, found %d", len(docs))}
	}
	v, err := parseDocument(docs[0].data)
	if err != nil {
		return nil, nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, nil, &FieldError{Detail: "expected an object, got " + typeName(v)}
	}
	if isList(obj) {
		return nil, nil, &FieldError{Path: "kind", Detail: fmt.Sprintf("%v holds several objects; decode it with DecodeObjects", obj["kind"])}
	}
	return decodeKind(obj, "")
}

// DecodeObjects decodes a stream of YAML documents separated by "---" lines
// (or one JSON document). Empty and comment-only documents are skipped, and
// a List (kind: List, or any unregistered FooList) expands to its items.
// When the stream holds several documents, an error is a *DocumentError
// naming the document.
func DecodeObjects(data []byte) ([]scheme.Object, error) {
	docs := splitDocuments(data)
	var out []scheme.Object
	for i, d := range docs {
		objs, err := decodeDocument(d.data)
		if err != nil {
			if len(docs) > 1 {
				err = &DocumentError{Number: i + 1, Line: d.line, Err: err}
			}
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// SplitYAMLDocuments splits a YAML stream on document separator lines
// ("---", optionally followed by a comment, or the end marker "..."),
// dropping documents that hold only blank lines and comments. Content that
// follows "--- " on the separator line starts the next document.
func SplitYAMLDocuments(data []byte) ([][]byte, error) {
	docs := splitDocuments(data)
	out := make([][]byte, len(docs))
	for i, d := range docs {
		out[i] = d.data
	}
	return out, nil
}

type document struct {
	data []byte
	line int
}

func splitDocuments(data []byte) []document {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var (
		docs  []document
		cur   bytes.Buffer
		start = 1
		n     = 0
	)
	flush := func() {
		if !blankDocument(cur.Bytes()) {
			docs = append(docs, document{data: bytes.Clone(cur.Bytes()), line: start})
		}
		cur.Reset()
	}
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			line, data = data, nil
		}
		n++
		text := strings.TrimRight(string(line), "\r\n")
		rest, ok := separator(text)
		if !ok {
			cur.Write(line)
			continue
		}
		flush()
		start = n + 1
		if rest != "" {
			cur.WriteString(rest + "\n")
			start = n
		}
	}
	flush()
	return docs
}

// separator reports whether line is a document separator ("---") or end
// marker ("..."), and returns content following it on the same line.
func separator(line string) (string, bool) {
	if !strings.HasPrefix(line, "---") && !strings.HasPrefix(line, "...") {
		return "", false
	}
	rest := line[3:]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", false // "----" or "...x" is content
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "#") || strings.HasPrefix(line, "...") {
		rest = ""
	}
	return rest, true
}

func blankDocument(b []byte) bool {
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

// parseDocument turns one JSON or YAML document into a generic JSON tree.
func parseDocument(doc []byte) (any, error) {
	if t := bytes.TrimSpace(doc); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return parseJSON(doc)
	}
	j, err := yamlToJSON(doc)
	if err != nil {
		return nil, err
	}
	return parseJSON(j)
}

func decodeDocument(doc []byte) ([]scheme.Object, error) {
	v, err := parseDocument(doc)
	if err != nil {
		return nil, err
	}
	return decodeTree(v, "")
}

// decodeTree decodes an object or, for a List, each of its items.
func decodeTree(v any, path string) ([]scheme.Object, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &FieldError{Path: path, Detail: "expected an object, got " + typeName(v)}
	}
	if !isList(obj) {
		o, _, err := decodeKind(obj, path)
		if err != nil {
			return nil, err
		}
		return []scheme.Object{o}, nil
	}
	for k := range obj {
		switch k {
		case "apiVersion", "kind", "metadata", "items":
		default:
			return nil, &FieldError{Path: join(path, k), Detail: "unknown field " + fmt.Sprintf("%q", k)}
		}
	}
	var items []any
	switch t := obj["items"].(type) {
	case nil:
	case []any:
		items = t
	default:
		return nil, &FieldError{Path: join(path, "items"), Detail: "expected an array, got " + typeName(t)}
	}
	out := []scheme.Object{}
	for i, it := range items {
		objs, err := decodeTree(it, fmt.Sprintf("%s[%d]", join(path, "items"), i))
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// isList reports whether obj is a list document: kind List, or a kind
// ending in List that is not registered (PodList) carrying items.
func isList(obj map[string]any) bool {
	kind, _ := obj["kind"].(string)
	if kind == "List" {
		return true
	}
	if !strings.HasSuffix(kind, "List") {
		return false
	}
	if _, ok := obj["items"]; !ok {
		return false
	}
	apiVersion, _ := obj["apiVersion"].(string)
	_, err := scheme.ByKind(apiVersion, kind)
	return err != nil
}

// decodeKind looks up the kind obj names and decodes obj into it.
func decodeKind(obj map[string]any, path string) (scheme.Object, *scheme.Kind, error) {
	var tm [2]string
	for i, name := range []string{"apiVersion", "kind"} {
		switch t := obj[name].(type) {
		case string:
			if t == "" {
				return nil, nil, &FieldError{Path: join(path, name), Detail: "must not be empty"}
			}
			tm[i] = t
		case nil:
			return nil, nil, &FieldError{Path: join(path, name), Detail: "required field is missing"}
		default:
			return nil, nil, &FieldError{Path: join(path, name), Detail: "expected a string, got " + typeName(t)}
		}
	}
	k, err := scheme.ByKind(tm[0], tm[1])
	if err != nil {
		return nil, nil, &FieldError{Path: path, Detail: err.Error()}
	}
	o := k.New()
	if err := fromValue(obj, o.ProtoReflect(), path); err != nil {
		return nil, nil, err
	}
	return o, k, nil
}
