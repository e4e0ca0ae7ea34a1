package openapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http/httptest"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	openapiv3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	kproto "k8s.io/kube-openapi/pkg/util/proto"
)

func TestHandler(t *testing.T) {
	docs := Default()
	h := docs.Handler()
	appsHash, _ := docs.V3Hash("apis/apps/v1")
	apps, _ := docs.V3("apis/apps/v1")

	tests := []struct {
		name        string
		method      string
		target      string
		header      map[string]string
		code        int
		contentType string
		body        []byte // checked when set
		check       func(t *testing.T, rec *httptest.ResponseRecorder)
	}{
		{name: "v2 JSON by default", target: "/openapi/v2", code: 200, contentType: mimeJSON, body: docs.V2()},
		{name: "v2 JSON on */*", target: "/openapi/v2", header: map[string]string{"Accept": "*/*"}, code: 200, contentType: mimeJSON},
		{name: "v2 protobuf as client-go asks", target: "/openapi/v2",
			header: map[string]string{"Accept": mimeV2ProtoOld}, code: 200, contentType: mimeV2Proto,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				var doc openapiv2.Document
				if err := proto.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				m, err := kproto.NewOpenAPIData(&doc)
				if err != nil {
					t.Fatal(err)
				}
				if m.LookupModel("io.k8s.api.core.v1.Pod") == nil {
					t.Error("no Pod in the protobuf document")
				}
			}},
		{name: "v2 protobuf preferred by q", target: "/openapi/v2",
			header: map[string]string{"Accept": "application/json;q=0.5, " + mimeV2Proto}, code: 200, contentType: mimeV2Proto},
		{name: "v2 not acceptable", target: "/openapi/v2", header: map[string]string{"Accept": "text/html"}, code: 406},
		{name: "v2 gzip", target: "/openapi/v2", header: map[string]string{"Accept-Encoding": "gzip"}, code: 200, contentType: mimeJSON,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if rec.Header().Get("Content-Encoding") != "gzip" {
					t.Fatal("not compressed")
				}
				zr, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(zr)
				if !bytes.Equal(b, docs.V2()) {
					t.Error("the uncompressed body is not V2")
				}
			}},
		{name: "v2 unchanged", target: "/openapi/v2", header: map[string]string{"If-None-Match": `"` + docs.v2.hash + `"`}, code: 304},
		{name: "v2 HEAD", method: "HEAD", target: "/openapi/v2", code: 200, contentType: mimeJSON, body: []byte{}},
		{name: "v2 POST", method: "POST", target: "/openapi/v2", code: 405},
		{name: "v3 index", target: "/openapi/v3", code: 200, contentType: mimeJSON, body: docs.V3Index()},
		{name: "v3 group-version", target: "/openapi/v3/apis/apps/v1", code: 200, contentType: mimeJSON, body: apps,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if cc := rec.Header().Get("Cache-Control"); cc != "no-cache, private" {
					t.Errorf("Cache-Control %q", cc)
				}
				if et := rec.Header().Get("ETag"); et != `"`+appsHash+`"` {
					t.Errorf("ETag %q", et)
				}
			}},
		{name: "v3 current hash is cached for good", target: "/openapi/v3/apis/apps/v1?hash=" + appsHash, code: 200, body: apps,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if cc := rec.Header().Get("Cache-Control"); cc != "public, immutable" {
					t.Errorf("Cache-Control %q", cc)
				}
			}},
		{name: "v3 stale hash redirects", target: "/openapi/v3/apis/apps/v1?hash=0123", code: 301,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if loc := rec.Header().Get("Location"); loc != "/openapi/v3/apis/apps/v1?hash="+appsHash {
					t.Errorf("Location %q", loc)
				}
			}},
		{name: "v3 protobuf", target: "/openapi/v3/api/v1", header: map[string]string{"Accept": mimeV3ProtoOld}, code: 200, contentType: mimeV3Proto,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				var doc openapiv3.Document
				if err := proto.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				if doc.GetComponents().GetSchemas() == nil {
					t.Error("no schemas in the protobuf document")
				}
			}},
		{name: "v3 unknown group-version", target: "/openapi/v3/apis/nope/v1", code: 404},
		{name: "unknown path", target: "/openapi/v4", code: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req := httptest.NewRequest(method, tc.target, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body.String())
			}
			if tc.contentType != "" && rec.Header().Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tc.contentType)
			}
			if tc.body != nil && !bytes.Equal(rec.Body.Bytes(), tc.body) {
				t.Errorf("body of %d bytes, want %d", rec.Body.Len(), len(tc.body))
			}
			if tc.check != nil {
				tc.check(t, rec)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	offers := []string{mimeJSON, mimeV2Proto, mimeV2ProtoOld}
	for _, tc := range []struct{ accept, want string }{
		{"", mimeJSON},
		{"*/*", mimeJSON},
		{"application/*", mimeJSON},
		{mimeV2ProtoOld, mimeV2ProtoOld},
		{mimeV2ProtoOld + ", application/json", mimeV2ProtoOld},
		{"application/json, " + mimeV2ProtoOld, mimeJSON},
		{"application/json;q=0.1, */*;q=0.5", mimeV2Proto}, // the most specific range sets a type's q
		{"application/json;q=0", ""},
		{"text/html", ""},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			if got := negotiate(tc.accept, offers...); got != tc.want {
				t.Errorf("negotiate(%q) = %q, want %q", tc.accept, got, tc.want)
			}
		})
	}
}
