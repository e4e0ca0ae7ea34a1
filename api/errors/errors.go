// Package errors is the API's one error vocabulary: Kubernetes status
// reasons (NotFound, AlreadyExists, Conflict, Invalid, ...) carried as a
// metav1.Status. The apiserver returns them; ToGRPC and FromGRPC translate
// them to and from gRPC status codes at the edge, so callers on both sides
// branch with IsNotFound, IsConflict and friends.
package errors

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	metav1 "minik8s/api/meta/v1"
)

// Reasons, as Kubernetes names them.
const (
	ReasonNotFound         = "NotFound"
	ReasonAlreadyExists    = "AlreadyExists"
	ReasonConflict         = "Conflict"
	ReasonInvalid          = "Invalid"
	ReasonBadRequest       = "BadRequest"
	ReasonForbidden        = "Forbidden"
	ReasonUnauthorized     = "Unauthorized"
	ReasonExpired          = "Expired"
	ReasonGone             = "Gone"
	ReasonTimeout          = "Timeout"
	ReasonTooLarge         = "RequestEntityTooLarge"
	ReasonMethodNotAllow   = "MethodNotAllowed"
	ReasonInternal         = "InternalError"
	ReasonUnavailable      = "ServiceUnavailable"
	ReasonTooManyRequests  = "TooManyRequests"
	ReasonUnsupportedMedia = "UnsupportedMediaType"
	ReasonStoreReadError   = "StorageReadError"
)

// StatusError is an API error with a Kubernetes-style Status.
type StatusError struct {
	Status *metav1.Status
}

func (e *StatusError) Error() string { return e.Status.GetMessage() }

func newStatus(code int32, reason, kind, name, msg string) *StatusError {
	return &StatusError{Status: &metav1.Status{
		ApiVersion: "v1", Kind: "Status", Status: "Failure",
		Code: code, Reason: reason, Message: msg,
		Details: &metav1.StatusDetails{Kind: kind, Name: name},
	}}
}

// NewNotFound: resource is the group-resource ("pods", "deployments.apps").
func NewNotFound(resource, name string) *StatusError {
	return newStatus(404, ReasonNotFound, resource, name, fmt.Sprintf("%s %q not found", resource, name))
}

// NewAlreadyExists reports a create of a name that is taken.
func NewAlreadyExists(resource, name string) *StatusError {
	return newStatus(409, ReasonAlreadyExists, resource, name, fmt.Sprintf("%s %q already exists", resource, name))
}

// NewConflict reports an update that lost an optimistic-concurrency race.
func NewConflict(resource, name, why string) *StatusError {
	return newStatus(409, ReasonConflict, resource, name,
		fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", resource, name, why))
}

// NewBadRequest reports a malformed request.
func NewBadRequest(msg string) *StatusError {
	return newStatus(400, ReasonBadRequest, "", "", msg)
}

// NewForbidden reports a request the caller may not make.
func NewForbidden(resource, name, why string) *StatusError {
	if resource == "" {
		// A request on a path, not a resource (Kubernetes' wording).
		return newStatus(403, ReasonForbidden, "", "", "forbidden: "+why)
	}
	subject := resource
	if name != "" {
		subject = fmt.Sprintf("%s %q", resource, name)
	}
	return newStatus(403, ReasonForbidden, resource, name, fmt.Sprintf("%s is forbidden: %s", subject, why))
}

// NewUnauthorized reports a request without valid credentials.
func NewUnauthorized(msg string) *StatusError {
	return newStatus(401, ReasonUnauthorized, "", "", msg)
}

// NewExpired reports a watch or list from a compacted resourceVersion.
func NewExpired(msg string) *StatusError {
	return newStatus(410, ReasonExpired, "", "", msg)
}

// NewTooLarge reports a request body over the limit.
func NewTooLarge(msg string) *StatusError {
	return newStatus(413, ReasonTooLarge, "", "", msg)
}

// NewMethodNotSupported reports a verb a resource does not serve.
func NewMethodNotSupported(resource, verb string) *StatusError {
	return newStatus(405, ReasonMethodNotAllow, resource, "", fmt.Sprintf("%s is not supported on resources of kind %q", verb, resource))
}

// NewUnsupportedMediaType reports a request body in a media type the
// endpoint does not take (a PATCH with an unknown Content-Type), listing the
// accepted ones as Kubernetes does.
func NewUnsupportedMediaType(accepted []string) *StatusError {
	return newStatus(415, ReasonUnsupportedMedia, "", "",
		"the body of the request was in an unknown format - accepted media types include: "+strings.Join(accepted, ", "))
}

// NewInternal wraps an unexpected server failure.
func NewInternal(err error) *StatusError {
	return newStatus(500, ReasonInternal, "", "", "Internal error occurred: "+err.Error())
}

// NewStoreReadError reports a stored object that cannot be decoded (or
// decrypted): reads of it fail naming its etcd key, a delete removes it.
func NewStoreReadError(resource, name, key string, err error) *StatusError {
	return newStatus(500, ReasonStoreReadError, resource, name,
		fmt.Sprintf("corrupt object: the stored value of %s cannot be decoded: %v (delete it to recover)", key, err))
}

// NewTimeout reports a request that did not finish in time.
func NewTimeout(msg string) *StatusError {
	return newStatus(504, ReasonTimeout, "", "", msg)
}

// CauseUnknownOutcome is the cause (in Status.details.causes) that marks
// an ambiguous write (NewAmbiguousWrite).
const CauseUnknownOutcome = "UnknownOutcome"

// NewAmbiguousWrite reports a write whose outcome is unknown: the request
// was sent (by a client to the apiserver, or by the apiserver to etcd)
// and then the connection was lost or the deadline passed before an
// answer came, so it may or may not have been applied. verb is "create",
// "update", "delete", ...; resource the group-resource; name may be "";
// cause says what cut it. It is a 504 Timeout, as Kubernetes reports a
// request the server gave up waiting for - Kubernetes clients treat it as
// they treat any timeout - with a CauseUnknownOutcome cause; IsAmbiguous
// recognises it.
func NewAmbiguousWrite(verb, resource, name string, cause error) *StatusError {
	what := strings.TrimSpace(verb + " " + resource)
	if name != "" {
		what += fmt.Sprintf(" %q", name)
	}
	why := "no answer came"
	if cause != nil {
		why = cause.Error()
	}
	msg := fmt.Sprintf("Timeout: the outcome of the write is unknown: %s was sent but did not complete (%s); it may or may not have been applied - read the object to find out", what, why)
	e := newStatus(504, ReasonTimeout, resource, name, msg)
	e.Status.Details.Causes = []*metav1.StatusCause{{Reason: CauseUnknownOutcome, Message: "the write may or may not have been applied"}}
	return e
}

// IsAmbiguous reports an error after which a write may or may not have
// been applied, so a caller that must know reads the object before
// repeating a non-idempotent write: an ambiguous write (NewAmbiguousWrite:
// the connection was lost after the request was sent) or any Timeout (a
// server, or the caller's own deadline, gave up before the answer - as in
// Kubernetes, the write may still land). Refusals (Conflict, Invalid, a
// ServiceUnavailable sent before any work, ...) are not ambiguous.
func IsAmbiguous(err error) bool { return ReasonOf(err) == ReasonTimeout }

// IsUnknownOutcome reports an error made by NewAmbiguousWrite, as opposed
// to a server's plain Timeout answer.
func IsUnknownOutcome(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) || se.Status.GetReason() != ReasonTimeout {
		return false
	}
	for _, c := range se.Status.GetDetails().GetCauses() {
		if c.GetReason() == CauseUnknownOutcome {
			return true
		}
	}
	return false
}

// NewUnavailable reports a dependency that is down (etcd unreachable).
func NewUnavailable(msg string) *StatusError {
	return newStatus(503, ReasonUnavailable, "", "", msg)
}

// NewTooManyRequests reports a request refused for now, to be retried
// (an eviction a PodDisruptionBudget forbids); retryAfterSeconds > 0 says
// when.
func NewTooManyRequests(msg string, retryAfterSeconds int32) *StatusError {
	e := newStatus(429, ReasonTooManyRequests, "", "", msg)
	e.Status.Details.RetryAfterSeconds = retryAfterSeconds
	return e
}

// FieldError is one invalid field.
type FieldError struct {
	Field  string // spec.containers[0].image
	Type   string // FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden, FieldValueTooLong
	Detail string // "Required value", "Invalid value: \"x\": ..."
}

func (f FieldError) String() string { return f.Field + ": " + f.Detail }

// Field error constructors, shaped like Kubernetes' field.ErrorList.
func Required(field, detail string) FieldError {
	d := "Required value"
	if detail != "" {
		d += ": " + detail
	}
	return FieldError{Field: field, Type: "FieldValueRequired", Detail: d}
}

// Invalid reports a bad value.
func Invalid(field string, value any, detail string) FieldError {
	d := fmt.Sprintf("Invalid value: %s", quoteValue(value))
	if detail != "" {
		d += ": " + detail
	}
	return FieldError{Field: field, Type: "FieldValueInvalid", Detail: d}
}

// NotSupported reports a value outside a fixed set.
func NotSupported(field string, value any, valid []string) FieldError {
	q := make([]string, len(valid))
	for i, v := range valid {
		q[i] = fmt.Sprintf("%q", v)
	}
	return FieldError{Field: field, Type: "FieldValueNotSupported",
		Detail: fmt.Sprintf("Unsupported value: %s: supported values: %s", quoteValue(value), strings.Join(q, ", "))}
}

// Duplicate reports a repeated value that must be unique.
func Duplicate(field string, value any) FieldError {
	return FieldError{Field: field, Type: "FieldValueDuplicate", Detail: fmt.Sprintf("Duplicate value: %s", quoteValue(value))}
}

// Forbidden reports a field that may not be set or changed.
func Forbidden(field, detail string) FieldError {
	return FieldError{Field: field, Type: "FieldValueForbidden", Detail: "Forbidden: " + detail}
}

// TooLong reports a value over its length limit.
func TooLong(field string, max int) FieldError {
	return FieldError{Field: field, Type: "FieldValueTooLong", Detail: fmt.Sprintf("Too long: must have at most %d bytes", max)}
}

func quoteValue(v any) string {
	switch t := v.(type) {
	case string:
		return fmt.Sprintf("%q", t)
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%v", t)
	}
}

// NewInvalid reports a validation failure listing every bad field, like
// `Pod "x" is invalid: [spec.containers[0].image: Required value, ...]`.
func NewInvalid(kind, name string, errs []FieldError) *StatusError {
	parts := make([]string, len(errs))
	causes := make([]*metav1.StatusCause, len(errs))
	for i, e := range errs {
		parts[i] = e.String()
		causes[i] = &metav1.StatusCause{Reason: e.Type, Message: e.Detail, Field: e.Field}
	}
	list := strings.Join(parts, ", ")
	if len(errs) > 1 {
		list = "[" + list + "]"
	}
	se := newStatus(422, ReasonInvalid, kind, name, fmt.Sprintf("%s %q is invalid: %s", kind, name, list))
	se.Status.Details.Causes = causes
	return se
}

// ReasonOf returns the Kubernetes reason of err, or "" when it is not an API error.
func ReasonOf(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status.GetReason()
	}
	return ""
}

// IsNotFound and friends branch on the reason of an API error.
func IsNotFound(err error) bool       { return ReasonOf(err) == ReasonNotFound }
func IsStoreReadError(err error) bool { return ReasonOf(err) == ReasonStoreReadError }
func IsAlreadyExists(err error) bool  { return ReasonOf(err) == ReasonAlreadyExists }
func IsConflict(err error) bool       { return ReasonOf(err) == ReasonConflict }
func IsInvalid(err error) bool        { return ReasonOf(err) == ReasonInvalid }
func IsForbidden(err error) bool      { return ReasonOf(err) == ReasonForbidden }
func IsBadRequest(err error) bool     { return ReasonOf(err) == ReasonBadRequest }

// IsExpired reports a "too old resource version": the caller must relist.
func IsExpired(err error) bool {
	r := ReasonOf(err)
	return r == ReasonExpired || r == ReasonGone
}

var reasonCodes = map[string]codes.Code{
	ReasonNotFound:         codes.NotFound,
	ReasonAlreadyExists:    codes.AlreadyExists,
	ReasonConflict:         codes.Aborted,
	ReasonInvalid:          codes.InvalidArgument,
	ReasonBadRequest:       codes.InvalidArgument,
	ReasonForbidden:        codes.PermissionDenied,
	ReasonUnauthorized:     codes.Unauthenticated,
	ReasonExpired:          codes.OutOfRange,
	ReasonGone:             codes.OutOfRange,
	ReasonTimeout:          codes.DeadlineExceeded,
	ReasonTooLarge:         codes.ResourceExhausted,
	ReasonTooManyRequests:  codes.ResourceExhausted,
	ReasonUnsupportedMedia: codes.InvalidArgument,
	ReasonMethodNotAllow:   codes.Unimplemented,
	ReasonUnavailable:      codes.Unavailable,
	ReasonInternal:         codes.Internal,
}

// ToGRPC converts any error into a gRPC status error carrying the
// metav1.Status as a detail. Non-API errors become InternalError.
func ToGRPC(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && ReasonOf(err) == "" {
		return err // already a gRPC status (context cancelled and the like)
	}
	var se *StatusError
	if !errors.As(err, &se) {
		se = NewInternal(err)
	}
	code, ok := reasonCodes[se.Status.GetReason()]
	if !ok {
		code = codes.Unknown
	}
	st := status.New(code, se.Status.GetMessage())
	if withDetails, derr := st.WithDetails(se.Status); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// FromGRPC turns a gRPC error back into a *StatusError when it carries a
// metav1.Status; transport errors become ServiceUnavailable or stay as they are.
func FromGRPC(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, d := range st.Details() {
		if s, ok := d.(*metav1.Status); ok {
			return &StatusError{Status: proto.Clone(s).(*metav1.Status)}
		}
	}
	switch st.Code() {
	case codes.Unavailable:
		return &StatusError{Status: NewUnavailable(st.Message()).Status}
	case codes.DeadlineExceeded:
		return &StatusError{Status: NewTimeout(st.Message()).Status}
	}
	return err
}
