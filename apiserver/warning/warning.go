// Package warning carries warnings from the request path (admission
// plugins, registries) to the front that answers the request: the REST
// front writes each as a `Warning: 299 - "text"` header, which kubectl
// prints as "Warning: text" (Kubernetes' k8s.io/apiserver/pkg/warning).
package warning

import (
	"context"
	"slices"
	"strings"
	"sync"
)

type key struct{}

// Recorder collects the warnings of one request.
type Recorder struct {
	mu    sync.Mutex
	texts []string
}

// NewContext returns ctx carrying a new Recorder, and the Recorder.
func NewContext(ctx context.Context) (context.Context, *Recorder) {
	r := &Recorder{}
	return context.WithValue(ctx, key{}, r), r
}

// Add records a warning for the request of ctx; without a Recorder (a
// front that shows no warnings, an internal call) it does nothing. The
// same text is kept once.
func Add(ctx context.Context, text string) {
	r, _ := ctx.Value(key{}).(*Recorder)
	if r == nil || text == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.texts, text) {
		r.texts = append(r.texts, text)
	}
}

// Texts returns the warnings recorded so far, in order.
func (r *Recorder) Texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.texts)
}

// FromContext returns the warnings recorded for the request of ctx.
func FromContext(ctx context.Context) []string {
	r, _ := ctx.Value(key{}).(*Recorder)
	if r == nil {
		return nil
	}
	return r.Texts()
}

// Header is the value of one HTTP Warning header for text (RFC 7234
// code 299, agent "-", the text quoted with its quotes and backslashes
// escaped), as Kubernetes writes it.
func Header(text string) string {
	return `299 - "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(text) + `"`
}
