package audit

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a writer that counts its writes.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	closed bool
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

func (b *syncBuffer) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSuffix(b.buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestBufferedBackend(t *testing.T) {
	t.Run("shutdown writes everything accepted, in order, then refuses", func(t *testing.T) {
		w := &syncBuffer{}
		b := NewBuffered(NewLogBackend(w), BatchConfig{BufferSize: 10, MaxBatchSize: 7, MaxBatchWait: time.Hour})
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 250; i++ {
					if !b.ProcessEvents([]byte(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))) {
						t.Error("refused before shutdown")
					}
				}
			}()
		}
		wg.Wait()
		b.Shutdown()
		lines := w.lines()
		if len(lines) != 1000 {
			t.Fatalf("%d lines, want 1000", len(lines))
		}
		next := map[string]int{}
		for _, l := range lines {
			var g, i int
			fmt.Sscanf(l, `{"g":%d,"i":%d}`, &g, &i)
			if key := fmt.Sprint(g); next[key] != i {
				t.Fatalf("goroutine %d: event %d after %d", g, i, next[key]-1)
			}
			next[fmt.Sprint(g)]++
		}
		if w.writes > 1000/7+2 || !w.closed {
			t.Fatalf("%d writes (batches of 7), closed %v", w.writes, w.closed)
		}
		if b.ProcessEvents([]byte(`{}`)) {
			t.Fatal("accepted after shutdown")
		}
		b.Shutdown() // twice is fine
	})
	t.Run("a partial batch is written after MaxBatchWait", func(t *testing.T) {
		w := &syncBuffer{}
		b := NewBuffered(NewLogBackend(w), BatchConfig{MaxBatchSize: 100, MaxBatchWait: 20 * time.Millisecond})
		defer b.Shutdown()
		b.ProcessEvents([]byte(`{"a":1}`), []byte(`{"a":2}`))
		deadline := time.Now().Add(5 * time.Second)
		for len(w.lines()) < 2 {
			if time.Now().After(deadline) {
				t.Fatal("not written within 5s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func TestLogBackendChunks(t *testing.T) {
	w := &syncBuffer{}
	b := NewLogBackend(w)
	big := []byte(`"` + strings.Repeat("x", maxWrite/3) + `"`)
	if !b.ProcessEvents(big, big, big, big) {
		t.Fatal("refused")
	}
	if len(w.lines()) != 4 || w.writes < 2 {
		t.Fatalf("%d lines in %d writes", len(w.lines()), w.writes)
	}
	b.Shutdown()
	if b.ProcessEvents(big) || !w.closed {
		t.Fatal("writing after shutdown")
	}
}
