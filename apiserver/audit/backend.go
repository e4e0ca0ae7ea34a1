package audit

import (
	"io"
	"log/slog"
	"sync"
	"time"
)

// Backend stores events, each already encoded as one JSON object (no
// newline), so a backend never sees an event that is still changing.
type Backend interface {
	// ProcessEvents stores events in order and reports whether it accepted
	// them; a backend refuses events after Shutdown. An accepted event is
	// written by the time Shutdown returns.
	ProcessEvents(events ...[]byte) bool
	// Shutdown writes everything accepted and releases the backend.
	Shutdown()
}

// LogBackend writes events as JSON lines to a writer, synchronously
// (kube-apiserver's log backend with --audit-log-format=json).
type LogBackend struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
	buf    []byte
}

// NewLogBackend writes to w; Shutdown closes w when it is an io.Closer
// (not os.Stdout: pass it wrapped, or use NewStdoutBackend).
func NewLogBackend(w io.Writer) *LogBackend { return &LogBackend{w: w} }

// maxWrite bounds one write of a batch, so a size-rotated file does not
// outgrow its limit by a whole batch.
const maxWrite = 256 << 10

// ProcessEvents writes the events, one line each, in as few writes as
// maxWrite allows. A failed write is logged; the events are lost, as
// nothing better can be done with them.
func (b *LogBackend) ProcessEvents(events ...[]byte) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	ok := true
	flush := func() {
		if len(b.buf) == 0 {
			return
		}
		if _, err := b.w.Write(b.buf); err != nil {
			slog.Error("audit log: write failed; events lost", "err", err)
			ok = false
		}
		b.buf = b.buf[:0]
	}
	for _, ev := range events {
		if len(b.buf) > 0 && len(b.buf)+len(ev)+1 > maxWrite {
			flush()
		}
		b.buf = append(b.buf, ev...)
		b.buf = append(b.buf, '\n')
	}
	flush()
	if cap(b.buf) > 4*maxWrite {
		b.buf = nil // one huge event should not pin its buffer
	}
	return ok
}

// Shutdown closes the writer if it is a Closer; later events are refused.
func (b *LogBackend) Shutdown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if c, ok := b.w.(io.Closer); ok {
		if err := c.Close(); err != nil {
			slog.Error("audit log: close", "err", err)
		}
	}
}

// BatchConfig tunes a Buffered backend (kube-apiserver's
// --audit-log-batch-* flags).
type BatchConfig struct {
	// BufferSize is how many events wait at most; a full buffer makes
	// ProcessEvents wait (Kubernetes drops the event instead: an audit
	// log that silently misses requests is worse than a slower request).
	BufferSize int
	// MaxBatchSize events at most go to the delegate at once.
	MaxBatchSize int
	// MaxBatchWait is the longest an accepted event waits for its batch.
	MaxBatchWait time.Duration
}

// DefaultBatchConfig: Kubernetes' buffer of 10000 and batches of 400, but
// at most a second's wait, since the log is a local file.
func DefaultBatchConfig() BatchConfig {
	return BatchConfig{BufferSize: 10000, MaxBatchSize: 400, MaxBatchWait: time.Second}
}

// Buffered queues events and hands them to a delegate in batches from one
// goroutine, so requests do not wait for the disk and the file sees one
// write per batch. Order is kept. Shutdown writes everything accepted.
type Buffered struct {
	delegate Backend
	cfg      BatchConfig
	mu       sync.RWMutex // closed and sends on ch; Shutdown takes it to close ch
	closed   bool
	ch       chan []byte
	done     chan struct{}
}

// NewBuffered starts the batching goroutine; Shutdown stops it.
func NewBuffered(delegate Backend, cfg BatchConfig) *Buffered {
	def := DefaultBatchConfig()
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = def.BufferSize
	}
	if cfg.MaxBatchSize <= 0 {
		cfg.MaxBatchSize = def.MaxBatchSize
	}
	if cfg.MaxBatchWait <= 0 {
		cfg.MaxBatchWait = def.MaxBatchWait
	}
	b := &Buffered{delegate: delegate, cfg: cfg, ch: make(chan []byte, cfg.BufferSize), done: make(chan struct{})}
	go b.run()
	return b
}

// ProcessEvents queues the events; false after Shutdown.
func (b *Buffered) ProcessEvents(events ...[]byte) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return false
	}
	for _, ev := range events {
		b.ch <- ev
	}
	return true
}

func (b *Buffered) run() {
	defer close(b.done)
	batch := make([][]byte, 0, b.cfg.MaxBatchSize)
	timer := time.NewTimer(b.cfg.MaxBatchWait)
	defer timer.Stop()
	send := func() {
		if len(batch) > 0 {
			b.delegate.ProcessEvents(batch...)
			clear(batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case ev, ok := <-b.ch:
			if !ok {
				send()
				return
			}
			if len(batch) == 0 {
				// The wait starts with the batch's first event.
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
				timer.Reset(b.cfg.MaxBatchWait)
			}
			batch = append(batch, ev)
			if len(batch) >= b.cfg.MaxBatchSize {
				send()
			}
		case <-timer.C:
			send()
		}
	}
}

// Shutdown refuses new events, writes the queued ones and shuts the
// delegate down.
func (b *Buffered) Shutdown() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	close(b.ch)
	b.mu.Unlock()
	<-b.done
	b.delegate.Shutdown()
}
