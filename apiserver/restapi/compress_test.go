package restapi_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"testing"

	"minik8s/apiserver/cache"
)

// bigConfigMaps creates n ConfigMaps of about size bytes each, named
// cm-000..., with values of varying length so list items differ in size.
func bigConfigMaps(s *server, n, size int) {
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-%03d"},"data":{"v":%q}}`,
			i, strings.Repeat(string(rune('a'+i%26)), size+i*37%1000))
		s.mustDo(201, "POST", configMaps, body)
	}
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLargeAnswersCompressed: as Kubernetes' apiserver does, answers of
// 128 KiB and more are gzip-compressed for a client that accepts gzip,
// and decompress to exactly the uncompressed answer; small answers and
// clients that refuse gzip get plain JSON.
func TestLargeAnswersCompressed(t *testing.T) {
	s := newServer(t, cache.Options{})
	bigConfigMaps(s, 60, 3000) // about 200 KB of JSON
	tests := []struct {
		name, path, encoding string
		header               []string
		gzipped              bool
	}{
		{"list", configMaps, "gzip", nil, true},
		{"list, gzip among others", configMaps, "deflate, gzip;q=0.5", nil, true},
		{"Table list", configMaps + "?includeObject=Object", "gzip", []string{tableAccept}, true},
		{"list, gzip refused", configMaps, "gzip;q=0", nil, false},
		{"list, no gzip asked", configMaps, "identity", nil, false},
		{"small page", configMaps + "?limit=2", "gzip", nil, false},
		{"one object", configMaps + "/cm-001", "gzip", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain := s.do("GET", tc.path, "", append([]string{"Accept-Encoding: identity"}, tc.header...)...)
			if plain.code != 200 || plain.header.Get("Content-Encoding") != "" {
				t.Fatalf("identity: %d, Content-Encoding %q", plain.code, plain.header.Get("Content-Encoding"))
			}
			r := s.do("GET", tc.path, "", append([]string{"Accept-Encoding: " + tc.encoding}, tc.header...)...)
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			body := r.body
			if got := r.header.Get("Content-Encoding") == "gzip"; got != tc.gzipped {
				t.Fatalf("Content-Encoding %q, want gzip %v (%d bytes)", r.header.Get("Content-Encoding"), tc.gzipped, len(plain.body))
			}
			if tc.gzipped {
				if len(body) >= len(plain.body)/2 {
					t.Errorf("compressed %d bytes of %d", len(body), len(plain.body))
				}
				body = gunzip(t, body)
			}
			// A Table's cells hold the objects' ages, which may tick between
			// the two requests; everything else is equal.
			if !tc.gzipped || tc.header == nil {
				if !bytes.Equal(body, plain.body) {
					t.Fatalf("answer differs from the uncompressed one:\n%.300s\n%.300s", body, plain.body)
				}
			} else if !strings.HasPrefix(string(body), `{"kind":"Table"`) || len(body) < len(plain.body)-100 {
				t.Fatalf("decompressed Table of %d bytes, uncompressed %d", len(body), len(plain.body))
			}
		})
	}
}

// TestListAnswersIndependent: list answers are written into reused
// buffers sized after their first item; repeated lists, lists whose
// items grow and shrink, and the pages of a paged list must still equal
// a fresh unpaged answer, with nothing of an earlier answer left in.
func TestListAnswersIndependent(t *testing.T) {
	s := newServer(t, cache.Options{})
	bigConfigMaps(s, 30, 500)
	names := func(o obj) []string { return o.names() }
	want := names(s.mustDo(200, "GET", configMaps, "", "Accept-Encoding: identity"))
	if len(want) != 30 {
		t.Fatalf("listed %d", len(want))
	}
	first := s.do("GET", configMaps, "", "Accept-Encoding: identity")
	for i := 0; i < 3; i++ {
		// Pages of several sizes in between reuse the buffers.
		var paged []string
		cont := ""
		for {
			path := configMaps + "?limit=" + fmt.Sprint(3+i*5)
			if cont != "" {
				path += "&continue=" + cont
			}
			page := s.mustDo(200, "GET", path, "", "Accept-Encoding: identity")
			paged = append(paged, names(page)...)
			if cont = page.str("metadata.continue"); cont == "" {
				break
			}
		}
		if fmt.Sprint(paged) != fmt.Sprint(want) {
			t.Fatalf("paged list %v, want %v", paged, want)
		}
		tbl := s.mustDo(200, "GET", configMaps+"?limit=4", "", tableAccept, "Accept-Encoding: identity")
		if rows := tbl.list("rows"); len(rows) != 4 {
			t.Fatalf("%d Table rows", len(rows))
		}
		again := s.do("GET", configMaps, "", "Accept-Encoding: identity")
		if !bytes.Equal(again.body, first.body) {
			t.Fatalf("list %d differs from the first:\n%.300s\n%.300s", i, again.body, first.body)
		}
	}
}

// TestTableRowsKeepManagedFields: a Table row's object is the
// PartialObjectMetadata Kubernetes puts there (meta.AsPartialObjectMetadata
// copies the whole ObjectMeta, managedFields included), and no more.
func TestTableRowsKeepManagedFields(t *testing.T) {
	s := newServer(t, cache.Options{})
	s.mustDo(201, "POST", pods+"?fieldManager=tester", podJSON("a", "web", "node-1"))
	tbl := s.mustDo(200, "GET", pods, "", tableAccept)
	row := obj(tbl.list("rows")[0].(map[string]any))
	o := obj(row.get("object").(map[string]any))
	if o.str("kind") != "PartialObjectMetadata" || o.str("apiVersion") != "meta.k8s.io/v1" {
		t.Fatalf("row object %v", o)
	}
	if o.get("spec") != nil || o.get("status") != nil {
		t.Fatalf("row object carries more than metadata: %v", o)
	}
	mf := o.list("metadata.managedFields")
	if len(mf) != 1 || obj(mf[0].(map[string]any)).str("manager") != "tester" {
		t.Fatalf("managedFields %v, want the creator's entry", o.get("metadata.managedFields"))
	}
	if o.str("metadata.labels.app") != "web" || o.str("metadata.name") != "a" {
		t.Fatalf("metadata %v", o.get("metadata"))
	}
}
