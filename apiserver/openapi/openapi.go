// Package openapi builds the OpenAPI documents of the REST front, the ones
// kubectl reads: /openapi/v2 (Swagger 2.0; kubectl explain, client-side
// validation, strategic merge patch) and /openapi/v3 (an index of
// group-versions, then one OpenAPI 3.0 document per group-version; kubectl
// explain, apply and the --validate=strict check for fieldValidation).
//
// The documents are generated from the API's protobuf messages (every kind
// registered in minik8s/api/scheme) with Kubernetes' names and JSON shapes
// (see api/codec): io.k8s.api.core.v1.Pod, Timestamps as
// io.k8s.apimachinery.pkg.apis.meta.v1.Time, IntOrString and Quantity as in
// Kubernetes. What the messages cannot say - required fields and list merge
// rules - comes from conventions.go; descriptions come from the comments of
// the .proto files, extracted at build time into
// zz_generated.descriptions.json (make generate, hack/gen-openapi).
package openapi

import (
	"crypto/sha512"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	_ "minik8s/api/all" // every kind registered before scheme.All is read
	"minik8s/api/scheme"
)

//go:embed zz_generated.descriptions.json
var descriptionsJSON []byte

// Documents are the rendered OpenAPI documents of a set of kinds. They are
// immutable once built; every method is safe for concurrent use.
type Documents struct {
	v2     []byte
	v2Hash string
	// v2Proto is the protobuf form of v2, made on first request.
	v2Proto func() ([]byte, error)

	v3Index []byte
	v3      map[string]v3Doc // by group-version path: "api/v1", "apis/apps/v1"

	gz sync.Map // ETag -> the gzip-compressed body
}

type v3Doc struct {
	json    []byte
	hash    string
	encoded func() ([]byte, error) // the protobuf form, made on first request
}

// Build renders the documents that describe kinds.
func Build(kinds []*scheme.Kind) (*Documents, error) {
	var descriptions map[string]string
	if err := json.Unmarshal(descriptionsJSON, &descriptions); err != nil {
		return nil, fmt.Errorf("read zz_generated.descriptions.json: %w", err)
	}
	m := newModel(kinds, descriptions)

	d := &Documents{v3: map[string]v3Doc{}}
	var err error
	if d.v2, err = json.Marshal(m.swagger()); err != nil {
		return nil, fmt.Errorf("render OpenAPI v2: %w", err)
	}
	d.v2Hash = hash(d.v2)
	d.v2Proto = sync.OnceValues(func() ([]byte, error) { return v2Protobuf(d.v2) })

	index := map[string]any{}
	for _, gv := range m.groupVersions {
		b, err := json.Marshal(m.openAPI3(gv))
		if err != nil {
			return nil, fmt.Errorf("render OpenAPI v3 of %s: %w", gv, err)
		}
		doc := v3Doc{json: b, hash: hash(b)}
		doc.encoded = sync.OnceValues(func() ([]byte, error) { return v3Protobuf(b) })
		d.v3[gv] = doc
		index[gv] = map[string]string{"serverRelativeURL": "/openapi/v3/" + gv + "?hash=" + doc.hash}
	}
	if d.v3Index, err = json.Marshal(map[string]any{"paths": index}); err != nil {
		return nil, err
	}
	return d, nil
}

// hash is the content hash Kubernetes publishes for an OpenAPI document
// (upper-case hex SHA-512), which clients use as a cache key.
func hash(b []byte) string {
	return fmt.Sprintf("%X", sha512.Sum512(b))
}

// V2 returns the Swagger 2.0 document as JSON. The caller must not modify it.
func (d *Documents) V2() []byte { return d.v2 }

// V3Index returns the /openapi/v3 document: every group-version with the
// URL of its document, whose hash parameter changes with its content.
func (d *Documents) V3Index() []byte { return d.v3Index }

// V3 returns the OpenAPI 3.0 document of a group-version ("api/v1",
// "apis/apps/v1") as JSON, and false for a group-version not served. The
// caller must not modify it.
func (d *Documents) V3(groupVersion string) ([]byte, bool) {
	doc, ok := d.v3[groupVersion]
	return doc.json, ok
}

// V3Hash returns the content hash of a group-version's document, as the
// index publishes it.
func (d *Documents) V3Hash(groupVersion string) (string, bool) {
	doc, ok := d.v3[groupVersion]
	return doc.hash, ok
}

// defaults are the documents of every registered kind, built once.
var defaults = sync.OnceValue(func() *Documents {
	d, err := Build(scheme.All())
	if err != nil {
		// Only a broken build (an unreadable generated file) gets here.
		panic("openapi: " + err.Error())
	}
	return d
})

// Default returns the documents of every kind registered in
// minik8s/api/scheme, built on first use.
func Default() *Documents { return defaults() }

// V2 returns the Swagger 2.0 document of every registered kind (JSON,
// computed once).
func V2() []byte { return defaults().V2() }

// V3Index returns the /openapi/v3 index of every registered group-version.
func V3Index() []byte { return defaults().V3Index() }

// V3 returns the OpenAPI 3.0 document of a group-version ("api/v1",
// "apis/apps/v1"), and false for one that is not served.
func V3(groupVersion string) ([]byte, bool) { return defaults().V3(groupVersion) }

// Handler serves /openapi/v2 and /openapi/v3[/...] from the documents of
// every registered kind; see Documents.Handler.
func Handler() http.Handler { return defaults().Handler() }
