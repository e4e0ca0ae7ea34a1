package openapi

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"time"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	openapiv3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
)

// Media types of the documents. client-go's discovery client asks for the
// protobuf form of v2 (gnostic's openapi_v2.Document) and nothing else.
// Clients ask with the "@v1.0" spelling, which is no valid media type, so
// the response names the dotted one, as Kubernetes' does.
const (
	mimeV2Proto    = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mimeV2ProtoOld = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mimeV3Proto    = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
	mimeV3ProtoOld = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
)

func v2Protobuf(j []byte) ([]byte, error) {
	doc, err := openapiv2.ParseDocument(j)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(doc)
}

func v3Protobuf(j []byte) ([]byte, error) {
	doc, err := openapiv3.ParseDocument(j)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(doc)
}

// Handler serves the documents, as Kubernetes' apiserver does:
//
//   - GET /openapi/v2: JSON, or protobuf for an Accept of
//     application/com.github.proto-openapi.spec.v2@v1.0+protobuf;
//   - GET /openapi/v3: the index (JSON);
//   - GET /openapi/v3/api/v1, /openapi/v3/apis/<group>/<version>: one
//     group-version's document, JSON or protobuf
//     (application/com.github.proto-openapi.spec.v3@v1.0+protobuf). With
//     ?hash= equal to the current content hash the response may be cached
//     for good (Cache-Control: public, immutable); a stale hash is
//     redirected (301) to the current URL.
//
// Every document carries an ETag (its hash in quotes) and answers a
// matching If-None-Match with 304. An Accept the handler cannot satisfy
// gets 406; an unknown path 404; a method other than GET or HEAD 405.
func (d *Documents) Handler() http.Handler {
	return http.HandlerFunc(d.serveHTTP)
}

func (d *Documents) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/openapi/v2":
		d.serveDocument(w, r, d.v2)
	case path == "/openapi/v3":
		d.serveDocument(w, r, d.v3Index)
	case strings.HasPrefix(path, "/openapi/v3/"):
		gv := strings.TrimPrefix(path, "/openapi/v3/")
		doc, ok := d.v3[gv]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if want := r.URL.Query().Get("hash"); want != "" {
			if want != doc.hash {
				http.Redirect(w, r, "/openapi/v3/"+gv+"?hash="+doc.hash, http.StatusMovedPermanently)
				return
			}
			w.Header().Set("Cache-Control", "public, immutable")
			w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
		}
		d.serveDocument(w, r, doc)
	default:
		http.NotFound(w, r)
	}
}

// serveDocument answers with doc as JSON or, when the client prefers it,
// as protobuf.
func (d *Documents) serveDocument(w http.ResponseWriter, r *http.Request, doc document) {
	offers := []string{mimeJSON}
	if doc.proto != nil {
		offers = append(offers, doc.protoMime, protoAliases[doc.protoMime])
	}
	chosen := negotiate(r.Header.Get("Accept"), offers...)
	if chosen == "" {
		notAcceptable(w, offers...)
		return
	}
	body, contentType, etag := doc.json, mimeJSON, `"`+doc.hash+`"`
	if chosen != mimeJSON {
		b, err := doc.proto()
		if err != nil {
			http.Error(w, "encode OpenAPI document: "+err.Error(), http.StatusInternalServerError)
			return
		}
		body, contentType, etag = b, doc.protoMime, `"`+doc.hash+`-pb"`
	}
	h := w.Header()
	h.Set("Vary", "Accept, Accept-Encoding")
	h.Set("ETag", etag)
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-cache, private")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentType)
	if acceptsGzip(r) {
		if gz, err := d.gzipped(etag, body); err == nil {
			body = gz
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = bytes.NewReader(body).WriteTo(w)
	}
}

// acceptsGzip reports whether the client takes a gzip-compressed body (Go's
// HTTP client asks for one by default and unpacks it itself).
func acceptsGzip(r *http.Request) bool {
	for _, e := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(e), ";")
		if strings.TrimSpace(name) == "gzip" && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// gzipped returns body compressed, once per document form (keyed by its
// ETag): the documents never change, and kubectl fetches them often.
func (d *Documents) gzipped(etag string, body []byte) ([]byte, error) {
	if gz, ok := d.gz.Load(etag); ok {
		return gz.([]byte), nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	d.gz.Store(etag, buf.Bytes())
	return buf.Bytes(), nil
}

// protoAliases are the "@v1.0" spellings clients send for each protobuf
// media type.
var protoAliases = map[string]string{mimeV2Proto: mimeV2ProtoOld, mimeV3Proto: mimeV3ProtoOld}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func notAcceptable(w http.ResponseWriter, offers ...string) {
	http.Error(w, "the OpenAPI document is served as "+strings.Join(offers, ", "), http.StatusNotAcceptable)
}

// negotiate picks the offer the Accept header prefers: the highest q,
// then the most specific match (type/subtype over type/* over */*), then
// the one the header names first, then the first offer. An empty Accept
// takes the first offer; "" means none is acceptable.
func negotiate(accept string, offers ...string) string {
	if strings.TrimSpace(accept) == "" {
		return offers[0]
	}
	type match struct {
		q         float64
		spec, pos int
	}
	better := func(a, b match) bool {
		if a.q != b.q {
			return a.q > b.q
		}
		if a.spec != b.spec {
			return a.spec > b.spec
		}
		return a.pos < b.pos
	}
	best, bestM := "", match{spec: -1}
	for _, offer := range offers {
		m := match{spec: -1}
		for pos, part := range strings.Split(accept, ",") {
			mt, q := parseAccept(part)
			if s := specificity(mt, offer); s > m.spec {
				m = match{q: q, spec: s, pos: pos}
			}
		}
		if m.spec >= 0 && m.q > 0 && (best == "" || better(m, bestM)) {
			best, bestM = offer, m
		}
	}
	return best
}

// parseAccept splits one Accept entry into its media type and q value.
func parseAccept(part string) (string, float64) {
	fields := strings.Split(part, ";")
	mt := strings.ToLower(strings.TrimSpace(fields[0]))
	q := 1.0
	for _, p := range fields[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
	}
	return mt, q
}

// specificity is how closely the accepted media type mt matches offer:
// 2 exactly, 1 by type/*, 0 by */*, -1 not at all.
func specificity(mt, offer string) int {
	switch {
	case mt == offer:
		return 2
	case mt == "*/*" || mt == "*":
		return 0
	case strings.HasSuffix(mt, "/*") && strings.HasPrefix(offer, strings.TrimSuffix(mt, "*")):
		return 1
	}
	return -1
}
