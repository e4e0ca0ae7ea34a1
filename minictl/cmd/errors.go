package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
)

// errSilent marks a failure that has already been reported line by line;
// the command only needs to exit 1.
var errSilent = errors.New("")

// FormatError renders err as the one line kubectl would print for it:
//
//	Error from server (NotFound): pods "x" not found
//	The Pod "x" is invalid: spec.containers[0].image: Required value
//	error: the server doesn't have a resource type "foo"
func FormatError(err error, servers []string) string {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		st := se.Status
		msg := oneLine(st.GetMessage())
		switch st.GetReason() {
		case apierrors.ReasonInvalid:
			if !strings.HasPrefix(msg, "The ") {
				msg = "The " + msg
			}
			return msg
		case apierrors.ReasonUnauthorized:
			return fmt.Sprintf("error: You must be logged in to the server (%s)", msg)
		case apierrors.ReasonUnavailable:
			if isConnectionError(msg) {
				return connectionRefused(servers)
			}
		case apierrors.ReasonTimeout:
			// A write cut after it went out (to the apiserver or to
			// etcd): the message says it may have landed.
			if apierrors.IsUnknownOutcome(err) {
				return "error: " + strings.TrimPrefix(msg, "Timeout: ")
			}
			// The client's own deadline (--request-timeout) ran out: no
			// server said anything, so this is not an error from one.
			if strings.HasPrefix(msg, "context deadline exceeded") {
				return requestTimedOut
			}
		case "":
			return "Error from server: " + msg
		}
		return fmt.Sprintf("Error from server (%s): %s", st.GetReason(), msg)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return requestTimedOut
	}
	msg := oneLine(err.Error())
	if isConnectionError(msg) {
		return connectionRefused(servers)
	}
	if strings.HasPrefix(msg, "error: ") || strings.HasPrefix(msg, "Error from server") || strings.HasPrefix(msg, "The ") {
		return msg
	}
	return "error: " + msg
}

const requestTimedOut = "error: the server did not answer within the request timeout (--request-timeout)"

func isConnectionError(msg string) bool {
	for _, s := range []string{"connection refused", "connection error", "no such host", "dial tcp", "i/o timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func connectionRefused(servers []string) string {
	return fmt.Sprintf("The connection to the server %s was refused - did you specify the right host or port?", strings.Join(servers, ","))
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// decodeError words a manifest decoding failure the kubectl way:
// `unknown field "spec.containers[0].imagee" in pod.yaml`.
func decodeError(err error, source string) error {
	var fe *codec.FieldError
	if errors.As(err, &fe) {
		if strings.HasPrefix(fe.Detail, "unknown field") && fe.Path != "" {
			return fmt.Errorf("unknown field %q in %s", fe.Path, source)
		}
		if fe.Path != "" {
			return fmt.Errorf("error parsing %s: %s: %s", source, fe.Path, fe.Detail)
		}
		return fmt.Errorf("error parsing %s: %s", source, fe.Detail)
	}
	return fmt.Errorf("error parsing %s: %v", source, err)
}
