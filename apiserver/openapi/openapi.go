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
//
// The REST front mounts Handler under /openapi/:
//
//	mux.Handle("/openapi/", openapi.Handler())
//
// The documents are built on first use (about 0.1 s); call Default at start
// to build them before the first request.
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
	v2      document
	v3Index document
	v3      map[string]document // by group-version path: "api/v1", "apis/apps/v1"

	gz sync.Map // ETag -> the gzip-compressed body
}

// document is one served document.
type document struct {
	json []byte
	hash string
	// proto makes the protobuf form on first request; nil for a document
	// served only as JSON (the v3 index).
	proto     func() ([]byte, error)
	protoMime string
}

func newDocument(j []byte, protoMime string, encode func([]byte) ([]byte, error)) document {
	d := document{json: j, hash: hash(j)}
	if encode != nil {
		d.protoMime = protoMime
		d.proto = sync.OnceValues(func() ([]byte, error) { return encode(j) })
	}
	return d
}

// Build renders the documents that describe kinds.
func Build(kinds []*scheme.Kind) (*Documents, error) {
	var descriptions map[string]string
	if err := json.Unmarshal(descriptionsJSON, &descriptions); err != nil {
		return nil, fmt.Errorf("read zz_generated.descriptions.json: %w", err)
	}
	m := newModel(kinds, descriptions)

	d := &Documents{v3: map[string]document{}}
	v2, err := json.Marshal(m.swagger())
	if err != nil {
		return nil, fmt.Errorf("render OpenAPI v2: %w", err)
	}
	d.v2 = newDocument(v2, mimeV2Proto, v2Protobuf)

	index := map[string]any{}
	for _, gv := range m.groupVersions {
		b, err := json.Marshal(m.openAPI3(gv))
		if err != nil {
			return nil, fmt.Errorf("render OpenAPI v3 of %s: %w", gv, err)
		}
		doc := newDocument(b, mimeV3Proto, v3Protobuf)
		d.v3[gv] = doc
		index[gv] = map[string]string{"serverRelativeURL": "/openapi/v3/" + gv + "?hash=" + doc.hash}
	}
	idx, err := json.Marshal(map[string]any{"paths": index})
	if err != nil {
		return nil, err
	}
	d.v3Index = newDocument(idx, "", nil)
	return d, nil
}

// hash is the content hash Kubernetes publishes for an OpenAPI document
// (upper-case hex SHA-512), which clients use as a cache key.
func hash(b []byte) string {
	return fmt.Sprintf("%X", sha512.Sum512(b))
}

// V2 returns the Swagger 2.0 document as JSON. The caller must not modify it.
func (d *Documents) V2() []byte { return d.v2.json }

// V3Index returns the /openapi/v3 document: every group-version with the
// URL of its document, whose hash parameter changes with its content.
func (d *Documents) V3Index() []byte { return d.v3Index.json }

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
