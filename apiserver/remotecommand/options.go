// Package remotecommand serves the streaming subresources kubectl uses -
// pods/exec, pods/attach and pods/portforward - over the wire protocols of
// the real Kubernetes API: WebSocket channels (v5.channel.k8s.io and its
// predecessors), SPDY/3.1 (kubectl's fallback and older clients) and, for
// port forwarding, SPDY tunneled through a WebSocket. It knows nothing of
// pods or kubelets: the caller passes closures that run the command or dial
// the port.
package remotecommand

import (
	"fmt"
	"net/url"
	"strconv"

	apierrors "minik8s/api/errors"
)

// Options are the query parameters of an exec or attach request
// (Kubernetes' PodExecOptions / PodAttachOptions).
type Options struct {
	Command   []string // exec only; empty for attach
	Container string
	Stdin     bool
	Stdout    bool
	Stderr    bool // always false with Tty: a terminal has one output
	Tty       bool
}

// ParseOptions reads an exec request's query: command (repeated),
// container, stdin, stdout, stderr and tty. It fails with a BadRequest
// when no stream is asked for or no command is given.
func ParseOptions(q url.Values) (Options, error) {
	o, err := parseStreams(q)
	if err != nil {
		return o, err
	}
	o.Command = q["command"]
	if len(o.Command) == 0 {
		return o, apierrors.NewBadRequest("you must specify at least one command for the container")
	}
	return o, nil
}

// ParseAttachOptions reads an attach request's query: container, stdin,
// stdout, stderr and tty.
func ParseAttachOptions(q url.Values) (Options, error) {
	return parseStreams(q)
}

func parseStreams(q url.Values) (Options, error) {
	o := Options{Container: q.Get("container")}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"stdin", &o.Stdin}, {"stdout", &o.Stdout}, {"stderr", &o.Stderr}, {"tty", &o.Tty}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid value %q for %s: must be true or false", v, f.name))
		}
		*f.dst = b
	}
	if o.Tty {
		// Kubernetes drops stderr rather than refusing: with a terminal
		// the command's stderr is the terminal too.
		o.Stderr = false
	}
	if !o.Stdin && !o.Stdout && !o.Stderr {
		return o, apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}
