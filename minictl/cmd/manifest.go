package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"minik8s/api/codec"
	"minik8s/api/scheme"
)

// manifest is one object read from -f input.
type manifest struct {
	Source string // the file it came from ("STDIN" for -)
	Kind   *scheme.Kind
	Object scheme.Object
	// Raw is the object as written, with the namespace filled in, for the
	// last-applied-configuration annotation and three-way merges.
	Raw map[string]any
}

// splitDocuments splits a YAML stream at "---" separator lines.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if t := strings.TrimRight(line, " \t\r"); t == "---" || strings.HasPrefix(t, "--- ") || strings.HasPrefix(t, "---#") {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	docs = append(docs, cur.Bytes())
	return docs
}

// manifestFiles expands -f arguments into files: directories give their
// .yaml, .yml and .json files (recursively with -R), "-" is stdin.
func manifestFiles(args []string, recursive bool) ([]string, error) {
	var out []string
	for _, a := range args {
		if a == "-" {
			out = append(out, a)
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("the path %q does not exist", a)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != a && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".yaml", ".yml", ".json":
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read directory %s: %w", a, err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("must specify one of -f and -k")
	}
	return out, nil
}

// visitManifests decodes every object of every -f source and calls fn for
// each, in order, as it goes. Decoding errors are passed to onErr and the
// walk continues with the next document. namespace fills in objects that
// name none; an object naming another one is an error if the user passed
// -n explicitly.
func visitManifests(in io.Reader, files []string, namespace string, explicitNS bool, fn func(*manifest) error, onErr func(error)) {
	for _, f := range files {
		var data []byte
		var err error
		source := f
		if f == "-" {
			source = "STDIN"
			data, err = io.ReadAll(in)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			onErr(fmt.Errorf("read %s: %w", source, err))
			continue
		}
		for _, doc := range splitDocuments(data) {
			objs, err := decodeDocument(doc, source)
			if err != nil {
				onErr(err)
				continue
			}
			for _, m := range objs {
				if err := m.setNamespace(namespace, explicitNS); err != nil {
					onErr(err)
					continue
				}
				if err := fn(m); err != nil {
					onErr(err)
				}
			}
		}
	}
}

// decodeDocument decodes one YAML or JSON document: an object, a List of
// objects, or nothing (an empty document or only comments).
func decodeDocument(doc []byte, source string) ([]*manifest, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("error parsing %s: %v", source, err)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("error parsing %s: %v", source, err)
	}
	if v == nil {
		return nil, nil
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("error parsing %s: a document must be an object", source)
	}
	kind, _ := raw["kind"].(string)
	apiVersion, _ := raw["apiVersion"].(string)
	if kind == "List" || (strings.HasSuffix(kind, "List") && raw["items"] != nil) {
		items, _ := raw["items"].([]any)
		var out []*manifest
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return out, fmt.Errorf("error parsing %s: items[%d] is not an object", source, i)
			}
			obj, err := decodeObject(m, source)
			if err != nil {
				return out, err
			}
			out = append(out, obj)
		}
		return out, nil
	}
	if kind == "" || apiVersion == "" {
		missing := "kind"
		if kind != "" {
			missing = "apiVersion"
		}
		return nil, fmt.Errorf("error validating %q: error validating data: %s not set", source, missing)
	}
	m, err := decodeObject(raw, source)
	if err != nil {
		return nil, err
	}
	return []*manifest{m}, nil
}

func decodeObject(raw map[string]any, source string) (*manifest, error) {
	kind, _ := raw["kind"].(string)
	apiVersion, _ := raw["apiVersion"].(string)
	k, err := scheme.ByKind(apiVersion, kind)
	if err != nil {
		name, ns := "", ""
		if md, ok := raw["metadata"].(map[string]any); ok {
			name, _ = md["name"].(string)
			ns, _ = md["namespace"].(string)
		}
		return nil, fmt.Errorf("resource mapping not found for name: %q namespace: %q from %q: no matches for kind %q in version %q",
			name, ns, source, kind, apiVersion)
	}
	obj := k.New()
	if err := codec.FromMap(raw, obj); err != nil {
		return nil, decodeError(err, source)
	}
	return &manifest{Source: source, Kind: k, Object: obj, Raw: raw}, nil
}

// setNamespace fills in or checks the object's namespace.
func (m *manifest) setNamespace(namespace string, explicit bool) error {
	md := scheme.Meta(m.Object)
	if !m.Kind.Namespaced {
		md.Namespace = ""
		return nil
	}
	if md.GetNamespace() != "" && md.GetNamespace() != namespace && explicit {
		return fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.",
			md.GetNamespace(), namespace, md.GetNamespace())
	}
	if md.GetNamespace() == "" {
		md.Namespace = namespace
		rawMeta, _ := m.Raw["metadata"].(map[string]any)
		if rawMeta == nil {
			rawMeta = map[string]any{}
			m.Raw["metadata"] = rawMeta
		}
		rawMeta["namespace"] = namespace
	}
	return nil
}

// name is "pod/x" as kubectl prints it after a change.
func (m *manifest) name() string {
	return objectName(m.Kind, m.Object.GetMetadata().GetName())
}
