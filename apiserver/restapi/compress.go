package restapi

import (
	"compress/gzip"
	"net/http"
	"strings"
	"sync"
)

// compressMin is the body size from which an answer is gzip-compressed
// for a client that accepts it. Kubernetes' apiserver does the same
// (APIResponseCompression, on by default) from 128 KiB, at gzip's fastest
// level: a page of 500 pods (about 870 KB of JSON) shrinks to a few
// percent for about 3 ms of server time, which pays for itself on any
// real network; on loopback it is roughly even (docs/benchmarks.md).
const compressMin = 128 << 10

// gzipWriters are reusable writers at BestSpeed; a gzip.Writer carries
// about a megabyte of compressor state.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// acceptsGzip reports whether the request takes a gzip-compressed body
// (Go's HTTP client, and so kubectl and client-go, ask for one unless
// compression is disabled, and unpack it themselves).
func acceptsGzip(r *http.Request) bool {
	for _, e := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(e), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// writeJSONFor writes data as r's JSON answer, gzip-compressed when it is
// large and r accepts it.
func writeJSONFor(w http.ResponseWriter, r *http.Request, code int, data []byte) {
	if len(data) < compressMin || !acceptsGzip(r) {
		writeJSON(w, code, data)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Encoding", "gzip")
	h.Add("Vary", "Accept-Encoding")
	h.Del("Content-Length")
	w.WriteHeader(code)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(w)
	_, _ = zw.Write(data)
	_ = zw.Close()
	zw.Reset(nil)
	gzipWriters.Put(zw)
}
