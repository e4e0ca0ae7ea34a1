package app

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	apierrors "minik8s/api/errors"
	kubelet "minik8s/api/kubelet"
	"minik8s/api/scheme"
	"minik8s/apiserver/endpoints"
	"minik8s/apiserver/patch"
	"minik8s/apiserver/registry/core/pods"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/remotecommand"
	"minik8s/apiserver/restapi"
)

// connector serves the stream subresources of the REST front, after the
// request path has authorized them: pods/log, pods/exec, pods/attach and
// pods/portforward, relayed to the kubelet of the pod's node, and
// nodes/proxy, relayed to the node's kubelet.
type connector struct {
	proxy *pods.Proxy
}

func newConnector(st *generic.Store, kc *pods.KubeletClient) *connector {
	return &connector{proxy: &pods.Proxy{Store: st, Kubelet: kc}}
}

// writeStatus answers a request that was not upgraded with a Status.
var writeStatus = remotecommand.WriteStatus

func (c *connector) serve(w http.ResponseWriter, r *http.Request, t endpoints.Target, rest string) {
	switch {
	case t.Resource == "pods" && t.Subresource == "log":
		c.logs(w, r, t)
	case t.Resource == "pods" && (t.Subresource == "exec" || t.Subresource == "attach"):
		c.exec(w, r, t)
	case t.Resource == "pods" && t.Subresource == "portforward":
		c.portForward(w, r, t)
	case t.Resource == "nodes" && t.Subresource == "proxy":
		c.nodeProxy(w, r, t, rest)
	default:
		writeStatus(w, apierrors.NewNotFound(t.Resource+"/"+t.Subresource, t.Name))
	}
}

// logs streams a container's log: container, follow, previous, tailLines,
// as kubectl logs sends them.
func (c *connector) logs(w http.ResponseWriter, r *http.Request, t endpoints.Target) {
	q := r.URL.Query()
	ctx := r.Context()
	pt, err := c.proxy.PodTarget(ctx, t.Namespace, t.Name, q.Get("container"))
	if err != nil {
		writeStatus(w, err)
		return
	}
	o := kubelet.LogOptions{Follow: q.Get("follow") == "true", Previous: q.Get("previous") == "true"}
	if tl := q.Get("tailLines"); tl != "" {
		n, err := strconv.ParseInt(tl, 10, 64)
		if err != nil || n < 0 {
			writeStatus(w, apierrors.NewBadRequest("invalid tailLines "+strconv.Quote(tl)))
			return
		}
		o.TailLines = n
	}
	body, err := kubelet.Logs(ctx, c.proxy.HTTPClient(), pt.Kubelet, t.Namespace, t.Name, pt.Container, o)
	if err != nil {
		writeStatus(w, pods.KubeletError(pt.Node, err))
		return
	}
	defer body.Close()
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if rerr == io.EOF || rerr != nil {
			return
		}
	}
}

// ApplyPatch is the REST front's PatchFunc: server-side apply through
// apiserver/patch's field manager, the other patch types by their RFCs
// and Kubernetes' strategic merge, recording the writer in managedFields.
// Exported so tests serve the REST front exactly as Run wires it.
func ApplyPatch(k *scheme.Kind, current []byte, patchType string, body []byte, o restapi.PatchOptions) ([]byte, error) {
	now := time.Now()
	if patchType == "application/apply-patch+yaml" {
		return patch.ServerSideApply(k, current, body, o.FieldManager, o.Force, now)
	}
	next, err := patch.Apply(k, current, patchType, body)
	if err != nil || o.FieldManager == "" {
		return next, err
	}
	return patch.TrackUpdate(k, current, next, o.FieldManager, "Update", now)
}

// exec runs a command in a container (or attaches to it) for kubectl's
// WebSocket or SPDY stream, through the kubelet's exec stream.
func (c *connector) exec(w http.ResponseWriter, r *http.Request, t endpoints.Target) {
	if t.Subresource == "attach" {
		writeStatus(w, apierrors.NewBadRequest("attach is not supported by the kubelets of this cluster: use kubectl exec"))
		return
	}
	opts, err := remotecommand.ParseOptions(r.URL.Query())
	if err != nil {
		writeStatus(w, err)
		return
	}
	pt, err := c.proxy.PodTarget(r.Context(), t.Namespace, t.Name, opts.Container)
	if err != nil {
		writeStatus(w, err)
		return
	}
	remotecommand.ServeExec(w, r, opts, func(ctx context.Context, s remotecommand.Streams) (int, error) {
		var resize chan kubelet.TermSize
		if s.Resize != nil {
			resize = make(chan kubelet.TermSize, 4)
			go func() {
				defer close(resize)
				for sz := range s.Resize {
					select {
					case resize <- kubelet.TermSize{Width: sz.Width, Height: sz.Height}:
					case <-ctx.Done():
						return
					}
				}
			}()
		}
		eo := kubelet.ExecOptions{Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, Tty: s.Tty, TLS: c.proxy.TLS()}
		if resize != nil {
			eo.Resize = resize
		}
		code, err := kubelet.Exec(ctx, pt.Kubelet, t.Namespace, t.Name, pt.Container, opts.Command, eo)
		var ce *kubelet.CommandError
		if err != nil && !errors.As(err, &ce) && ctx.Err() == nil {
			err = pods.KubeletError(pt.Node, err)
		}
		return code, err
	})
}

// portForward forwards kubectl's port-forward streams to the pod's ports
// through its kubelet.
func (c *connector) portForward(w http.ResponseWriter, r *http.Request, t endpoints.Target) {
	// Ports belong to the pod, not to a container.
	pt, err := c.proxy.PodNode(r.Context(), t.Namespace, t.Name)
	if err != nil {
		writeStatus(w, err)
		return
	}
	remotecommand.ServePortForward(w, r, func(ctx context.Context, port int32) (net.Conn, error) {
		conn, err := kubelet.PortForward(ctx, pt.Kubelet, t.Namespace, t.Name, port, c.proxy.TLS())
		if err != nil {
			return nil, pods.KubeletError(pt.Node, err)
		}
		return conn, nil
	})
}

// nodeProxy relays GET .../nodes/NAME/proxy/PATH (and the other methods)
// to PATH on the node's kubelet server, with the request's query, as
// Kubernetes' node proxy does (kubectl get --raw .../proxy/stats/summary).
func (c *connector) nodeProxy(w http.ResponseWriter, r *http.Request, t endpoints.Target, path string) {
	base, err := c.proxy.KubeletFor(r.Context(), t.Name)
	if err != nil {
		writeStatus(w, err)
		return
	}
	target, err := url.Parse(base)
	if err != nil {
		writeStatus(w, apierrors.NewInternal(err))
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.URL.Path = "/" + path
			pr.Out.URL.RawPath = ""
			pr.Out.Host = target.Host
			// The caller's credentials are for the apiserver, not the kubelet.
			pr.Out.Header.Del("Authorization")
		},
		Transport:     c.proxy.HTTPClient().Transport,
		FlushInterval: -1, // stream (logs with follow) as it comes
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeStatus(w, pods.KubeletError(t.Name, err))
		},
	}
	rp.ServeHTTP(w, r)
}
