// Package audit is the apiserver's audit log, as kube-apiserver writes it:
// a policy (audit.k8s.io/v1 Policy) decides per request a level (None,
// Metadata, Request, RequestResponse) and the stages to omit; the request
// path fills an audit.k8s.io/v1 Event as the request goes (who, what, the
// authorization decision, the objects); each stage reached is written as
// one JSON line to a backend (a file rotated by size, or stdout), through a
// buffer that batches writes.
//
// Both fronts use it the same way: Begin puts a Request in the context,
// the request path (apiserver/endpoints) calls Evaluate, the
// Log... methods and the decision recorder, and the front calls Complete
// with the response code. Every method of a nil *Request does nothing, so
// callers never check whether auditing is on.
package audit

import (
	"encoding/json"
	"time"
)

// Level is how much of a request is recorded.
type Level string

// The levels, in increasing order.
const (
	// LevelNone records nothing.
	LevelNone Level = "None"
	// LevelMetadata records who did what to which object, and the
	// outcome, but no object.
	LevelMetadata Level = "Metadata"
	// LevelRequest adds the request's object (not for secrets: see
	// LogRequestObject).
	LevelRequest Level = "Request"
	// LevelRequestResponse adds the response's object.
	LevelRequestResponse Level = "RequestResponse"
)

func (l Level) ord() int {
	switch l {
	case LevelMetadata:
		return 1
	case LevelRequest:
		return 2
	case LevelRequestResponse:
		return 3
	}
	return 0
}

// Less reports whether l records less than o.
func (l Level) Less(o Level) bool { return l.ord() < o.ord() }

// Stage is a point in a request's life at which an event is written.
type Stage string

// The stages.
const (
	// StageRequestReceived: the request was received and its policy
	// decided, before anything else.
	StageRequestReceived Stage = "RequestReceived"
	// StageResponseStarted: the response headers were sent, for
	// long-running requests (watch, exec, log, proxy, port-forward) only.
	StageResponseStarted Stage = "ResponseStarted"
	// StageResponseComplete: the response was sent.
	StageResponseComplete Stage = "ResponseComplete"
	// StagePanic: handling the request panicked.
	StagePanic Stage = "Panic"
)

// HeaderAuditID is the HTTP header that carries a request's audit ID: a
// client may send it, the apiserver echoes it (or the one it made).
const HeaderAuditID = "Audit-Id"

// Event is one line of the audit log (audit.k8s.io/v1 Event); the fields
// and their order are Kubernetes'.
type Event struct {
	Kind                     string            `json:"kind"`
	APIVersion               string            `json:"apiVersion"`
	Level                    Level             `json:"level"`
	AuditID                  string            `json:"auditID"`
	Stage                    Stage             `json:"stage"`
	RequestURI               string            `json:"requestURI"`
	Verb                     string            `json:"verb"`
	User                     UserInfo          `json:"user"`
	ImpersonatedUser         *UserInfo         `json:"impersonatedUser,omitempty"`
	SourceIPs                []string          `json:"sourceIPs,omitempty"`
	UserAgent                string            `json:"userAgent,omitempty"`
	ObjectRef                *ObjectReference  `json:"objectRef,omitempty"`
	ResponseStatus           *Status           `json:"responseStatus,omitempty"`
	RequestObject            json.RawMessage   `json:"requestObject,omitempty"`
	ResponseObject           json.RawMessage   `json:"responseObject,omitempty"`
	RequestReceivedTimestamp MicroTime         `json:"requestReceivedTimestamp"`
	StageTimestamp           MicroTime         `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations,omitempty"`
}

// UserInfo is the authenticated (or impersonated) user of an event.
type UserInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// ObjectReference names what a resource request acted on.
type ObjectReference struct {
	Resource        string `json:"resource,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIGroup        string `json:"apiGroup,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Subresource     string `json:"subresource,omitempty"`
}

// Status is the outcome of a request: the HTTP code and, for errors, the
// bounded fields of the Status the client got (never its object).
type Status struct {
	Metadata struct{}        `json:"metadata"`
	Status   string          `json:"status,omitempty"`
	Message  string          `json:"message,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Details  json.RawMessage `json:"details,omitempty"`
	Code     int32           `json:"code,omitempty"`
}

// MicroTime is a timestamp written as Kubernetes' metav1.MicroTime:
// RFC 3339 in UTC with microseconds.
type MicroTime time.Time

// RFC3339Micro is MicroTime's layout.
const RFC3339Micro = "2006-01-02T15:04:05.000000Z07:00"

// MarshalJSON implements json.Marshaler.
func (t MicroTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(RFC3339Micro)+2)
	b = append(b, '"')
	b = tt.UTC().AppendFormat(b, RFC3339Micro)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *MicroTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = MicroTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	tt, err := time.Parse(RFC3339Micro, s)
	if err != nil {
		return err
	}
	*t = MicroTime(tt)
	return nil
}
