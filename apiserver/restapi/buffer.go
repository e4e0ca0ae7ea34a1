package restapi

import (
	"net/http"
	"sync"
)

// Response buffers of list and Table answers. A page of 500 pods is about
// 1 MB of JSON: growing a fresh buffer to that size by appending copied it
// several times over and left the garbage collector a megabyte of new heap
// per page. Buffers go back to the pool once written (net/http has copied
// or sent the bytes when Write returns); the very large ones of unpaged
// lists are left to the collector rather than held.
var listBuffers sync.Pool // *[]byte

const maxPooledBuffer = 4 << 20

// listBuffer returns an empty buffer from the pool, or a new one of the
// capacity asked.
func listBuffer(size int) []byte {
	if p, ok := listBuffers.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, size)
}

// writePooledJSON writes data as r's JSON answer, then gives its buffer
// back to the pool.
func writePooledJSON(w http.ResponseWriter, r *http.Request, code int, data []byte) {
	writeJSONFor(w, r, code, data)
	if cap(data) <= maxPooledBuffer {
		data = data[:0]
		listBuffers.Put(&data)
	}
}

// growFor makes room in b for the remaining of n items after done of them
// took len(b)-start bytes, so a list is written with at most one more
// copy however many items it has.
func growFor(b []byte, start, done, n int) []byte {
	if done == 0 || done >= n {
		return b
	}
	per := (len(b) - start) / done
	need := per*(n-done) + per*(n-done)/8 + 1024
	if cap(b)-len(b) >= need {
		return b
	}
	nb := make([]byte, len(b), len(b)+need)
	copy(nb, b)
	return nb
}
