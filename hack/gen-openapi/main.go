// Command gen-openapi extracts the comments of the API's .proto files into
// apiserver/openapi/zz_generated.descriptions.json, the descriptions the
// OpenAPI documents carry (what `kubectl explain` prints). Comments are not
// in the Go descriptors at run time, so they are read at build time from a
// descriptor set that protoc wrote with --include_source_info:
//
//	protoc -I . --include_source_info --descriptor_set_out=api.pb api/**/*.proto
//	go run ./hack/gen-openapi -descriptors api.pb -out apiserver/openapi/zz_generated.descriptions.json
//
// hack/update-codegen.sh (make generate) runs both steps. The output maps a
// message's full proto name ("minik8s.core.v1.Pod") or a field's
// ("minik8s.core.v1.Pod.spec") to its comment as one paragraph per blank-line
// separated block; only the packages of served kinds are kept (not
// minik8s.rpc, the gRPC envelope).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Source-info path elements (descriptor.proto field numbers).
const (
	fileMessageType = 4 // FileDescriptorProto.message_type
	messageField    = 2 // DescriptorProto.field
	messageNested   = 3 // DescriptorProto.nested_type
)

func main() {
	in := flag.String("descriptors", "", "FileDescriptorSet written by protoc --include_source_info")
	out := flag.String("out", "", "where to write the descriptions JSON")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: gen-openapi -descriptors FILE -out FILE")
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-openapi:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("read descriptor set %s: %w", in, err)
	}
	docs := descriptions(&set)
	if len(docs) == 0 {
		return fmt.Errorf("no comments in %s: was it written with --include_source_info?", in)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(docs); err != nil { // map keys come out sorted: stable output
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// descriptions returns the comment of every message and field of the
// minik8s API packages, keyed by full proto name.
func descriptions(set *descriptorpb.FileDescriptorSet) map[string]string {
	docs := map[string]string{}
	for _, f := range set.GetFile() {
		pkg := f.GetPackage()
		if !strings.HasPrefix(pkg, "minik8s.") || pkg == "minik8s.rpc" {
			continue
		}
		comments := map[string]string{}
		for _, loc := range f.GetSourceCodeInfo().GetLocation() {
			if c := joinComment(loc.GetLeadingComments(), loc.GetTrailingComments()); c != "" {
				comments[pathKey(loc.GetPath())] = c
			}
		}
		for i, m := range f.GetMessageType() {
			walkMessage(docs, comments, pkg, m, []int32{fileMessageType, int32(i)})
		}
	}
	return docs
}

func walkMessage(docs, comments map[string]string, prefix string, m *descriptorpb.DescriptorProto, path []int32) {
	name := prefix + "." + m.GetName()
	if m.GetOptions().GetMapEntry() {
		return
	}
	if c := comments[pathKey(path)]; c != "" {
		docs[name] = c
	}
	for i, f := range m.GetField() {
		if c := comments[pathKey(append(path, messageField, int32(i)))]; c != "" {
			docs[name+"."+f.GetName()] = c
		}
	}
	for i, n := range m.GetNestedType() {
		walkMessage(docs, comments, name, n, append(append([]int32(nil), path...), messageNested, int32(i)))
	}
}

func pathKey(p []int32) string {
	var b strings.Builder
	for i, e := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		fmt.Fprint(&b, e)
	}
	return b.String()
}

// joinComment turns comment lines into prose: the lines of a paragraph are
// joined with spaces, paragraphs with a blank line, as Kubernetes' own
// descriptions are.
func joinComment(parts ...string) string {
	var paras []string
	for _, part := range parts {
		var cur []string
		flush := func() {
			if len(cur) > 0 {
				paras = append(paras, strings.Join(cur, " "))
				cur = nil
			}
		}
		for _, line := range strings.Split(part, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				flush()
				continue
			}
			cur = append(cur, line)
		}
		flush()
	}
	return strings.Join(paras, "\n\n")
}
