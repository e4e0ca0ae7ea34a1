package restapi

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"minik8s/apiserver/endpoints"
)

// Discovery documents, in the shapes of meta.k8s.io/v1 (APIVersions,
// APIGroupList, APIGroup, APIResourceList) and of the aggregated
// apidiscovery.k8s.io/v2 APIGroupDiscoveryList that kubectl asks for first.

type groupVersion struct {
	GroupVersion string `json:"groupVersion"`
	Version      string `json:"version"`
}

type apiGroup struct {
	Name             string         `json:"name"`
	Versions         []groupVersion `json:"versions"`
	PreferredVersion groupVersion   `json:"preferredVersion"`
}

type apiResource struct {
	Name         string   `json:"name"`
	SingularName string   `json:"singularName"`
	Namespaced   bool     `json:"namespaced"`
	Group        string   `json:"group,omitempty"`
	Version      string   `json:"version,omitempty"`
	Kind         string   `json:"kind"`
	Verbs        []string `json:"verbs"`
	ShortNames   []string `json:"shortNames,omitempty"`
	Categories   []string `json:"categories,omitempty"`
}

// categories puts the workload kinds in "all", as Kubernetes does, so
// `kubectl get all` lists them.
var categories = map[string][]string{
	"pods": {"all"}, "services": {"all"}, "replicationcontrollers": {"all"},
	"deployments.apps": {"all"}, "replicasets.apps": {"all"}, "statefulsets.apps": {"all"}, "daemonsets.apps": {"all"},
	"jobs.batch": {"all"}, "horizontalpodautoscalers.autoscaling": {"all"},
}

// gvKey is "v1" or "apps/v1".
func gvKey(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

// byGroupVersion groups the served resources; groups are the named
// groups served (sorted), versions each group's one served version.
func byGroupVersion(api *endpoints.API) (res map[string][]apiResource, groups []string, versions map[string]string) {
	res, versions = map[string][]apiResource{}, map[string]string{}
	for _, r := range api.Resources() {
		k := r.Kind
		gv := gvKey(k.Group, k.Version)
		ar := apiResource{Name: r.Path, Namespaced: k.Namespaced, Kind: r.Body.Kind, Verbs: r.Verbs}
		if !strings.Contains(r.Path, "/") {
			ar.SingularName = strings.ToLower(k.Kind)
			ar.ShortNames = k.ShortNames
			ar.Categories = categories[k.GroupResource()]
		}
		if r.Body.Group != k.Group || r.Body.Version != k.Version {
			ar.Group, ar.Version = r.Body.Group, r.Body.Version
		}
		res[gv] = append(res[gv], ar)
		if _, seen := versions[k.Group]; !seen {
			versions[k.Group] = k.Version
			if k.Group != "" {
				groups = append(groups, k.Group)
			}
		}
	}
	sort.Strings(groups)
	return res, groups, versions
}

func writeAny(w http.ResponseWriter, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, data)
}

// wantsAggregated reports whether the client takes the aggregated
// discovery document (kubectl 1.30+ asks for it first).
func wantsAggregated(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "as=APIGroupDiscoveryList")
}

func (h *Handler) serveLegacyVersions(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		h.serveAggregated(w, true)
		return
	}
	writeAny(w, map[string]any{
		"kind": "APIVersions", "versions": []string{"v1"},
		"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}},
	})
}

func (h *Handler) groupList() []apiGroup {
	_, groups, versions := byGroupVersion(h.cfg.API)
	out := []apiGroup{}
	for _, g := range groups {
		gv := groupVersion{GroupVersion: g + "/" + versions[g], Version: versions[g]}
		out = append(out, apiGroup{Name: g, Versions: []groupVersion{gv}, PreferredVersion: gv})
	}
	return out
}

func (h *Handler) serveGroups(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		h.serveAggregated(w, false)
		return
	}
	writeAny(w, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": h.groupList()})
}

// serveGroupDiscovery answers /api/v1, /apis/GROUP and /apis/GROUP/VERSION;
// it reports false for other paths.
func (h *Handler) serveGroupDiscovery(w http.ResponseWriter, r *http.Request) bool {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	res, _, _ := byGroupVersion(h.cfg.API)
	switch {
	case len(segs) == 2 && segs[0] == "api" && segs[1] == "v1":
		writeAny(w, map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": res["v1"]})
		return true
	case len(segs) == 2 && segs[0] == "apis":
		for _, g := range h.groupList() {
			if g.Name == segs[1] {
				writeAny(w, map[string]any{"kind": "APIGroup", "apiVersion": "v1", "name": g.Name, "versions": g.Versions, "preferredVersion": g.PreferredVersion})
				return true
			}
		}
	case len(segs) == 3 && segs[0] == "apis":
		gv := segs[1] + "/" + segs[2]
		if rs, ok := res[gv]; ok {
			writeAny(w, map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": rs})
			return true
		}
	}
	return false
}

// Aggregated discovery (apidiscovery.k8s.io/v2).

type discoveryResource struct {
	Resource         string            `json:"resource"`
	ResponseKind     gvk               `json:"responseKind"`
	Scope            string            `json:"scope"`
	SingularResource string            `json:"singularResource"`
	Verbs            []string          `json:"verbs"`
	ShortNames       []string          `json:"shortNames,omitempty"`
	Categories       []string          `json:"categories,omitempty"`
	Subresources     []discoverySubres `json:"subresources,omitempty"`
}

type discoverySubres struct {
	Subresource  string   `json:"subresource"`
	ResponseKind gvk      `json:"responseKind"`
	Verbs        []string `json:"verbs"`
}

type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

func (h *Handler) serveAggregated(w http.ResponseWriter, legacy bool) {
	res, groups, versions := byGroupVersion(h.cfg.API)
	if legacy {
		groups = []string{""}
	}
	var items []any
	for _, g := range groups {
		v := versions[g]
		var rs []discoveryResource
		subs := map[string][]discoverySubres{}
		for _, ar := range res[gvKey(g, v)] {
			parent, sub, ok := strings.Cut(ar.Name, "/")
			if ok {
				bg, bv := g, v
				if ar.Group != "" || ar.Version != "" {
					bg, bv = ar.Group, ar.Version
				}
				subs[parent] = append(subs[parent], discoverySubres{Subresource: sub, ResponseKind: gvk{bg, bv, ar.Kind}, Verbs: ar.Verbs})
			}
		}
		for _, ar := range res[gvKey(g, v)] {
			if strings.Contains(ar.Name, "/") {
				continue
			}
			scope := "Cluster"
			if ar.Namespaced {
				scope = "Namespaced"
			}
			rs = append(rs, discoveryResource{Resource: ar.Name, ResponseKind: gvk{g, v, ar.Kind}, Scope: scope,
				SingularResource: ar.SingularName, Verbs: ar.Verbs, ShortNames: ar.ShortNames, Categories: ar.Categories,
				Subresources: subs[ar.Name]})
		}
		md := map[string]any{}
		if g != "" {
			md["name"] = g
		}
		items = append(items, map[string]any{
			"metadata": md,
			"versions": []any{map[string]any{"version": v, "resources": rs, "freshness": "Current"}},
		})
	}
	data, err := json.Marshal(map[string]any{"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": map[string]any{}, "items": items})
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
