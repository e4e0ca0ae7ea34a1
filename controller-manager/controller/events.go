package controller

import (
	"fmt"
	"sync"

	"minik8s/api/scheme"
)

// Event types, as Kubernetes names them.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// EventRecorder records Events about objects; api/record's *Recorder is
// one. Implementations must be safe for concurrent use and must not block
// the caller on the API.
type EventRecorder interface {
	Event(obj scheme.Object, eventType, reason, message string)
	Eventf(obj scheme.Object, eventType, reason, format string, args ...any)
}

// NopRecorder drops every event.
type NopRecorder struct{}

// Event does nothing.
func (NopRecorder) Event(scheme.Object, string, string, string) {}

// Eventf does nothing.
func (NopRecorder) Eventf(scheme.Object, string, string, string, ...any) {}

// FakeRecorder keeps events as "Type Reason Message" strings, for tests.
type FakeRecorder struct {
	mu     sync.Mutex
	events []string
}

// Event records one event.
func (r *FakeRecorder) Event(_ scheme.Object, eventType, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventType+" "+reason+" "+message)
}

// Eventf records one formatted event.
func (r *FakeRecorder) Eventf(obj scheme.Object, eventType, reason, format string, args ...any) {
	r.Event(obj, eventType, reason, fmt.Sprintf(format, args...))
}

// Events returns the recorded events in order.
func (r *FakeRecorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}
