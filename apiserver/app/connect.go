package app

import (
	"io"
	"net/http"
	"strconv"
	"time"

	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/endpoints"
	"minik8s/apiserver/patch"
	"minik8s/apiserver/registry/core/pods"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/restapi"
	kubelet "minik8s/kubelet/client"
)

// connector serves the stream subresources of the REST front, after the
// request path has authorized them: pods/log today.
type connector struct {
	proxy *pods.Proxy
}

func newConnector(st *generic.Store) *connector { return &connector{proxy: &pods.Proxy{Store: st}} }

func writeStatus(w http.ResponseWriter, err error) {
	se, ok := err.(*apierrors.StatusError)
	if !ok {
		se = apierrors.NewInternal(err)
	}
	data, _ := jsonStatus(se)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(se.Status.Code))
	_, _ = w.Write(data)
}

func (c *connector) serve(w http.ResponseWriter, r *http.Request, t endpoints.Target, _ string) {
	switch {
	case t.Resource == "pods" && t.Subresource == "log":
		c.logs(w, r, t)
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
	body, err := kubelet.Logs(ctx, pods.KubeletHTTP, pt.Kubelet, t.Namespace, t.Name, pt.Container, o)
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
