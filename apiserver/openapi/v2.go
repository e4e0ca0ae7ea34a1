package openapi

import "strconv"

// obj is a JSON object under construction; encoding/json writes its keys
// sorted, so the documents (and their hashes) are deterministic.
type obj = map[string]any

var info = obj{"title": "minik8s", "version": "v1"}

// bearer is how clients authenticate: a bearer token (or a client
// certificate, which OpenAPI cannot express).
var bearer = obj{"type": "apiKey", "name": "authorization", "in": "header",
	"description": "Bearer Token authentication"}

// swagger renders the model as a Swagger 2.0 document.
func (m *model) swagger() obj {
	defs := obj{}
	for name, s := range m.defs {
		defs[name] = schemaV2(s)
	}
	paths := obj{}
	for p, item := range m.paths {
		paths[p] = pathItemV2(item)
	}
	return obj{
		"swagger":             "2.0",
		"info":                info,
		"paths":               paths,
		"definitions":         defs,
		"securityDefinitions": obj{"BearerToken": bearer},
		"security":            []any{obj{"BearerToken": []string{}}},
	}
}

func schemaV2(s *schema) obj {
	o := obj{}
	if s.Ref != "" {
		o["$ref"] = "#/definitions/" + s.Ref
	}
	schemaCommon(o, s, schemaV2)
	if s.Type != "" {
		o["type"] = s.Type
	}
	return o
}

// schemaCommon fills what both dialects write alike; sub renders nested
// schemas in the caller's dialect.
func schemaCommon(o obj, s *schema, sub func(*schema) obj) {
	if s.Description != "" {
		o["description"] = s.Description
	}
	if s.Format != "" {
		o["format"] = s.Format
	}
	if s.Items != nil {
		o["items"] = sub(s.Items)
	}
	if s.AdditionalProperties != nil {
		o["additionalProperties"] = sub(s.AdditionalProperties)
	}
	if len(s.Properties) > 0 {
		props := obj{}
		for name, p := range s.Properties {
			props[name] = sub(p)
		}
		o["properties"] = props
	}
	if len(s.Required) > 0 {
		o["required"] = s.Required
	}
	for k, v := range s.Extensions {
		o[k] = v
	}
}

func pathItemV2(item *pathItem) obj {
	o := obj{}
	if len(item.Params) > 0 {
		o["parameters"] = paramsV2(item.Params)
	}
	for _, op := range item.Ops {
		params := paramsV2(op.Params)
		if op.Body != "" {
			body := obj{"name": "body", "in": "body", "schema": obj{"$ref": "#/definitions/" + op.Body}}
			if op.BodyRequired {
				body["required"] = true
			}
			params = append([]any{body}, params...)
		}
		responses := obj{}
		for _, r := range op.Responses {
			resp := obj{"description": r.Description}
			if r.Schema != nil {
				resp["schema"] = schemaV2(r.Schema)
			}
			responses[strconv.Itoa(r.Code)] = resp
		}
		o[op.Method] = operationCommon(op, obj{
			"consumes":  op.Consumes,
			"produces":  op.Produces,
			"responses": responses,
			"schemes":   []string{"https"},
		}, params)
	}
	return o
}

func operationCommon(op *operation, o obj, params []any) obj {
	o["operationId"] = op.ID
	o["description"] = op.Description
	o["tags"] = []string{op.Tag}
	if op.Action != "" {
		o[actionExtension] = op.Action
	}
	if op.GVK != (groupVersionKind{}) {
		o[gvkExtension] = op.GVK.ext()
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	return o
}

func paramsV2(ps []param) []any {
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		o := obj{"name": p.Name, "in": p.In, "type": p.Type, "uniqueItems": true}
		if p.Description != "" {
			o["description"] = p.Description
		}
		if p.Required {
			o["required"] = true
		}
		out = append(out, o)
	}
	return out
}
