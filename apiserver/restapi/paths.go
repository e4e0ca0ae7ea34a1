package restapi

import (
	"net/http"
	"strings"

	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/endpoints"
)

// route is a parsed resource URL:
// /api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE[/REST...]]] and the
// same under /apis/GROUP/VERSION.
type route struct {
	group, version string
	kind           *scheme.Kind
	target         endpoints.Target
	// rest is what follows the subresource (nodes/NAME/proxy/PATH).
	rest string
}

func (r route) collection() bool { return r.target.Name == "" }

// parsePath splits a resource URL. ok is false for a URL that is not a
// resource URL at all (discovery, /version, ...).
func parsePath(api *endpoints.API, path string) (route, bool, error) {
	var r route
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		r.version, segs = segs[1], segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		r.group, r.version, segs = segs[1], segs[2], segs[3:]
	default:
		return r, false, nil
	}
	// namespaces/NS/RESOURCE... is a namespaced path unless what follows
	// the namespace name is a subresource of the namespace (status,
	// finalize): RESOURCE must then be a namespaced kind of the group.
	if len(segs) >= 3 && segs[0] == "namespaces" {
		if k, err := api.KindOf(r.group, segs[2]); err == nil && k.Namespaced && k.Group == r.group {
			r.target.Namespace = segs[1]
			segs = segs[2:]
		}
	}
	r.target.Group, r.target.Resource = r.group, segs[0]
	k, err := api.KindOf(r.group, r.target.Resource)
	if err != nil || k.Group != r.group || k.Version != r.version || k.Resource != r.target.Resource {
		return r, true, apierrors.NewNotFound("resource", r.target.Resource)
	}
	r.kind = k
	if len(segs) > 1 {
		r.target.Name = segs[1]
	}
	if len(segs) > 2 {
		r.target.Subresource = segs[2]
	}
	if len(segs) > 3 {
		r.rest = strings.Join(segs[3:], "/")
		if !strings.HasSuffix(r.target.Subresource, "proxy") {
			return r, true, apierrors.NewNotFound("resource", path)
		}
	}
	return r, true, nil
}

// verbOf is the Kubernetes verb of a request on a route.
func verbOf(method string, r route, watch bool) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch:
			return "watch"
		case r.collection():
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if r.collection() {
			return "deletecollection"
		}
		return "delete"
	}
	return ""
}
