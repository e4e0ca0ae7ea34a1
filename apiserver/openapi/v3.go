package openapi

import (
	"strconv"
	"strings"
)

// openAPI3 renders the paths of one group-version ("apis/apps/v1") as an
// OpenAPI 3.0 document, with the schemas those paths reach.
func (m *model) openAPI3(gv string) obj {
	prefix := "/" + gv + "/"
	paths := obj{}
	var roots []string
	for p, item := range m.paths {
		// "/api/v1/" and "/apis/<group>/<version>/" prefix only their own paths.
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		paths[p] = pathItemV3(item)
		for _, op := range item.Ops {
			if op.Body != "" {
				roots = append(roots, op.Body)
			}
			for _, r := range op.Responses {
				r.Schema.refs(func(name string) { roots = append(roots, name) })
			}
		}
	}
	schemas := obj{}
	for name, s := range m.closure(roots) {
		schemas[name] = schemaV3(s)
	}
	return obj{
		"openapi": "3.0.0",
		"info":    info,
		"paths":   paths,
		"components": obj{
			"schemas":         schemas,
			"securitySchemes": obj{"BearerToken": bearer},
		},
		"security": []any{obj{"BearerToken": []string{}}},
	}
}

func schemaV3(s *schema) obj {
	o := obj{}
	if s.Ref != "" {
		ref := obj{"$ref": "#/components/schemas/" + s.Ref}
		if s.Description == "" && len(s.Extensions) == 0 {
			return ref
		}
		// OpenAPI 3.0 ignores the siblings of a $ref; Kubernetes wraps the
		// reference in allOf so that the description stays.
		o["allOf"] = []any{ref}
	}
	schemaCommon(o, s, schemaV3)
	switch {
	case len(s.OneOfV3) > 0:
		alts := make([]any, 0, len(s.OneOfV3))
		for _, a := range s.OneOfV3 {
			alts = append(alts, schemaV3(a))
		}
		o["oneOf"] = alts
	case s.Type != "":
		o["type"] = s.Type
	}
	return o
}

func pathItemV3(item *pathItem) obj {
	o := obj{}
	if len(item.Params) > 0 {
		o["parameters"] = paramsV3(item.Params)
	}
	for _, op := range item.Ops {
		responses := obj{}
		for _, r := range op.Responses {
			resp := obj{"description": r.Description}
			if r.Schema != nil {
				content := obj{}
				for _, mt := range op.Produces {
					content[mt] = obj{"schema": schemaV3(r.Schema)}
				}
				resp["content"] = content
			}
			responses[strconv.Itoa(r.Code)] = resp
		}
		o3 := obj{"responses": responses}
		if op.Body != "" {
			content := obj{}
			for _, mt := range op.Consumes {
				content[mt] = obj{"schema": obj{"$ref": "#/components/schemas/" + op.Body}}
			}
			body := obj{"content": content}
			if op.BodyRequired {
				body["required"] = true
			}
			o3["requestBody"] = body
		}
		o[op.Method] = operationCommon(op, o3, paramsV3(op.Params))
	}
	return o
}

func paramsV3(ps []param) []any {
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		o := obj{"name": p.Name, "in": p.In, "schema": obj{"type": p.Type, "uniqueItems": true}}
		if p.Description != "" {
			o["description"] = p.Description
		}
		if p.Required {
			o["required"] = true
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
