package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"minik8s/api/codec"
	"minik8s/api/scheme"
	"minik8s/minictl/printers"
)

// outputFormat is a parsed -o flag.
type outputFormat struct {
	name     string // "" (table), wide, yaml, json, name, custom-columns, jsonpath
	columns  []printers.CustomColumn
	template *printers.Template
}

func (f *outputFormat) isTable() bool {
	return f.name == "" || f.name == "wide" || f.name == "custom-columns"
}

func parseOutput(s string) (*outputFormat, error) {
	name, arg, hasArg := strings.Cut(s, "=")
	switch name {
	case "", "wide", "yaml", "json", "name":
		if hasArg {
			break
		}
		return &outputFormat{name: name}, nil
	case "custom-columns":
		cols, err := printers.ParseCustomColumns(arg)
		if err != nil {
			return nil, err
		}
		return &outputFormat{name: name, columns: cols}, nil
	case "jsonpath":
		arg = strings.Trim(arg, "'")
		if arg == "" {
			return nil, fmt.Errorf("template format specified but no template given")
		}
		t, err := printers.ParseTemplate(arg)
		if err != nil {
			return nil, fmt.Errorf("error parsing jsonpath %s, %v", arg, err)
		}
		return &outputFormat{name: name, template: t}, nil
	}
	return nil, fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: custom-columns,json,jsonpath,name,wide,yaml", s)
}

// objectName is "pod/x" or "deployment.apps/x".
func objectName(k *scheme.Kind, name string) string {
	return printers.ResourceName(k) + "/" + name
}

// deletedName is `pod "x"` or `deployment.apps "x"`, as delete prints it.
func deletedName(k *scheme.Kind, name string) string {
	return fmt.Sprintf("%s %q", printers.ResourceName(k), name)
}

// writeJSONObject prints one object as indented JSON.
func writeJSONObject(w io.Writer, obj scheme.Object) error {
	b, err := codec.MarshalIndentJSON(obj)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeYAMLObject prints one object as YAML.
func writeYAMLObject(w io.Writer, obj scheme.Object) error {
	b, err := codec.MarshalYAML(obj)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// listJSON is objs wrapped in a kind: List, as kubectl prints several objects.
func listJSON(objs []scheme.Object) ([]byte, error) {
	items := make([]json.RawMessage, len(objs))
	for i, o := range objs {
		b, err := codec.MarshalJSON(o)
		if err != nil {
			return nil, err
		}
		items[i] = b
	}
	list := struct {
		APIVersion string            `json:"apiVersion"`
		Items      []json.RawMessage `json:"items"`
		Kind       string            `json:"kind"`
		Metadata   map[string]string `json:"metadata"`
	}{"v1", items, "List", map[string]string{"resourceVersion": ""}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(list); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// listMap is the List of objs as a generic tree, for -o jsonpath.
func listMap(objs []scheme.Object) map[string]any {
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = codec.ToMap(o)
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}}
}

// printStructured prints objs as yaml, json, name or jsonpath output; a
// single requested object prints bare, anything else as a List.
func printStructured(w io.Writer, f *outputFormat, kinds []*scheme.Kind, objs []scheme.Object, single bool) error {
	switch f.name {
	case "name":
		for i, o := range objs {
			fmt.Fprintln(w, objectName(kinds[i], o.GetMetadata().GetName()))
		}
		return nil
	case "json":
		if single && len(objs) == 1 {
			return writeJSONObject(w, objs[0])
		}
		b, err := listJSON(objs)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "    "); err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", out.Bytes())
		return err
	case "yaml":
		if single && len(objs) == 1 {
			return writeYAMLObject(w, objs[0])
		}
		b, err := listJSON(objs)
		if err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	case "jsonpath":
		var data any
		if single && len(objs) == 1 {
			data = codec.ToMap(objs[0])
		} else {
			data = listMap(objs)
		}
		s, err := f.template.Execute(data)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, s)
		return err
	}
	return fmt.Errorf("output format %q is not a structured format", f.name)
}
