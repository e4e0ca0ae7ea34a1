package cmd

import (
	"fmt"
	"strings"

	"minik8s/api/scheme"
)

// resourceRef is one requested kind and the names asked for (none: all).
type resourceRef struct {
	kind  *scheme.Kind
	names []string
}

// allKinds are the kinds "get all" lists, as in kubectl.
var allKinds = []string{"pods", "services", "daemonsets", "deployments", "replicasets", "statefulsets", "jobs", "horizontalpodautoscalers"}

// lookupKind resolves a type as typed on the command line.
func lookupKind(name string) (*scheme.Kind, error) {
	k, err := scheme.Lookup(name)
	if err == nil {
		return k, nil
	}
	// "deployment.apps": the singular with a group.
	if base, group, ok := strings.Cut(name, "."); ok {
		if k2, err2 := scheme.Lookup(base); err2 == nil && k2.Group == group {
			return k2, nil
		}
	}
	return nil, err
}

// parseResourceArgs reads what get, describe and delete take: "TYPE",
// "TYPE1,TYPE2", "TYPE NAME...", or "TYPE/NAME..." (all args in that form).
func parseResourceArgs(args []string) ([]resourceRef, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("you must specify the type of resource to get")
	}
	if strings.Contains(args[0], "/") {
		var refs []resourceRef
		index := map[*scheme.Kind]int{}
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok || typ == "" || name == "" {
				return nil, fmt.Errorf("arguments in resource/name form must have a single resource and name")
			}
			k, err := lookupKind(typ)
			if err != nil {
				return nil, err
			}
			if i, seen := index[k]; seen {
				refs[i].names = append(refs[i].names, name)
				continue
			}
			index[k] = len(refs)
			refs = append(refs, resourceRef{kind: k, names: []string{name}})
		}
		return refs, nil
	}
	for _, a := range args[1:] {
		if strings.Contains(a, "/") {
			return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'minictl get resource/<resource_name>' instead of 'minictl get resource resource/<resource_name>'")
		}
	}
	var refs []resourceRef
	for _, t := range strings.Split(args[0], ",") {
		if t == "" {
			continue
		}
		if t == "all" {
			for _, r := range allKinds {
				if k, err := scheme.ByResource(r); err == nil {
					refs = append(refs, resourceRef{kind: k})
				}
			}
			continue
		}
		k, err := lookupKind(t)
		if err != nil {
			return nil, err
		}
		refs = append(refs, resourceRef{kind: k, names: args[1:]})
	}
	if len(refs) > 1 && len(args) > 1 {
		// kubectl allows "get pods,svc x" and looks for x of each type.
		for i := range refs {
			refs[i].names = args[1:]
		}
	}
	return refs, nil
}
