package record

import (
	"fmt"
	"sync"

	"minik8s/api/scheme"
)

// EventRecorder records Events about objects; *Recorder is one, and Nop and
// Fake are its doubles. Implementations must be safe for concurrent use and
// must not block the caller on the API.
type EventRecorder interface {
	Event(obj scheme.Object, eventType, reason, message string)
	Eventf(obj scheme.Object, eventType, reason, format string, args ...any)
}

var (
	_ EventRecorder = (*Recorder)(nil)
	_ EventRecorder = Nop{}
	_ EventRecorder = (*Fake)(nil)
)

// Nop drops every event: the default of a component built without a
// recorder.
type Nop struct{}

// Event does nothing.
func (Nop) Event(scheme.Object, string, string, string) {}

// Eventf does nothing.
func (Nop) Eventf(scheme.Object, string, string, string, ...any) {}

// Fake keeps events as "Type Reason Message" strings, for tests. Its zero
// value is ready to use.
type Fake struct {
	mu     sync.Mutex
	events []string
}

// Event records one event.
func (r *Fake) Event(_ scheme.Object, eventType, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventType+" "+reason+" "+message)
}

// Eventf records one formatted event.
func (r *Fake) Eventf(obj scheme.Object, eventType, reason, format string, args ...any) {
	r.Event(obj, eventType, reason, fmt.Sprintf(format, args...))
}

// Events returns the recorded events in order.
func (r *Fake) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// Or returns r, or Nop when r is nil, so a component's Config may leave its
// recorder unset.
func Or(r EventRecorder) EventRecorder {
	if r == nil {
		return Nop{}
	}
	return r
}
