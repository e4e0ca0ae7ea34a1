package metrics

import (
	"sync"
	"time"
)

// MinWindow is the least span a CPU rate is measured over: samples taken
// closer together (kubectl top twice in a row) are mostly noise.
const MinWindow = time.Second

// MaxWindow is the longest: an average over more than this says little
// about the usage now, so the kubelet's own recent rate is used instead.
const MaxWindow = 2 * time.Minute

// forgetAfter drops the samples of series not scraped for this long
// (pods and nodes that are gone).
const forgetAfter = 10 * time.Minute

// Sample is one reading of a cumulative CPU counter, with the rate the
// kubelet measured itself (its usageNanoCores).
type Sample struct {
	Time           time.Time
	CoreNanos      uint64 // usageCoreNanoSeconds
	KubeletNanoCPU uint64 // usageNanoCores
}

// Rater turns successive cumulative CPU samples into usage rates, as
// metrics-server does: the rate is the counter's growth between two
// scrapes at least MinWindow apart. It keeps two samples per series.
// Safe for concurrent use.
type Rater struct {
	mu     sync.Mutex
	series map[string]*samples
}

type samples struct {
	older, newer Sample
	// touched is when the series was last sampled, by the apiserver's
	// clock (a kubelet's clock may differ).
	touched time.Time
}

// Rate records s for the series key and returns the usage in nanocores
// and the window it was measured over. Without an earlier sample at
// least MinWindow (and at most MaxWindow) back, or after the counter went
// backwards (a restarted container), or from a kubelet that reports no
// cumulative counter, it returns the kubelet's own rate
// with a window of MinWindow, the least the kubelet measures over.
func (r *Rater) Rate(key string, s Sample) (nanoCores uint64, window time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.series == nil {
		r.series = map[string]*samples{}
	}
	ss, ok := r.series[key]
	switch {
	case !ok:
		ss = &samples{newer: s}
		r.series[key] = ss
	case s.Time.Sub(ss.newer.Time) >= MinWindow:
		ss.older, ss.newer = ss.newer, s
	}
	ss.touched = time.Now()
	ref := ss.older
	if d := s.Time.Sub(ref.Time); !ref.Time.IsZero() && d >= MinWindow && d <= MaxWindow && s.CoreNanos >= ref.CoreNanos && s.CoreNanos > 0 {
		return uint64(float64(s.CoreNanos-ref.CoreNanos) / d.Seconds()), d
	}
	return s.KubeletNanoCPU, MinWindow
}

// Forget drops the series not sampled since before now-forgetAfter (now
// by the apiserver's clock).
func (r *Rater) Forget(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, ss := range r.series {
		if now.Sub(ss.touched) > forgetAfter {
			delete(r.series, k)
		}
	}
}
