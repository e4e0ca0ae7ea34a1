package audit

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"minik8s/apiserver/auth"
)

// Policy is an audit.k8s.io/v1 Policy: the first rule that matches a
// request gives its level and the stages to omit; a request no rule
// matches is not recorded (level None), as in Kubernetes.
type Policy struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name,omitempty"`
	} `json:"metadata,omitempty"`
	Rules []PolicyRule `json:"rules"`
	// OmitStages are omitted for every rule, on top of the rule's own.
	OmitStages []Stage `json:"omitStages,omitempty"`
	// OmitManagedFields drops metadata.managedFields from the objects
	// recorded, unless a rule says otherwise.
	OmitManagedFields bool `json:"omitManagedFields,omitempty"`
}

// PolicyRule matches requests; every field given must match (an empty
// list matches everything).
type PolicyRule struct {
	Level Level `json:"level"`
	// Users and UserGroups match the authenticated user's name and
	// groups (a request without a user matches neither).
	Users      []string `json:"users,omitempty"`
	UserGroups []string `json:"userGroups,omitempty"`
	Verbs      []string `json:"verbs,omitempty"`
	// Resources and Namespaces match resource requests only ("" in
	// Namespaces is a cluster-scoped resource).
	Resources  []GroupResources `json:"resources,omitempty"`
	Namespaces []string         `json:"namespaces,omitempty"`
	// NonResourceURLs match the paths of non-resource requests: exact,
	// "*", or a prefix ending in "*" ("/healthz*").
	NonResourceURLs   []string `json:"nonResourceURLs,omitempty"`
	OmitStages        []Stage  `json:"omitStages,omitempty"`
	OmitManagedFields *bool    `json:"omitManagedFields,omitempty"`
}

// GroupResources match resources of one API group ("" is core). An empty
// Resources matches all of the group's; an entry is "pods", "pods/log",
// "*", "*/status" or "pods/*" (the resource and all its subresources).
// ResourceNames narrow to objects of those names.
type GroupResources struct {
	Group         string   `json:"group,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	ResourceNames []string `json:"resourceNames,omitempty"`
}

// LoadPolicy reads and checks a policy file (--audit-policy-file).
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit policy: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("audit policy %s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy decodes a policy from YAML or JSON, refusing unknown fields,
// and checks it as Kubernetes does (a policy needs at least one rule).
// The returned policy's rules carry the policy-wide omitStages.
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return nil, err
	}
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		return nil, fmt.Errorf("apiVersion %q, kind %q: want audit.k8s.io/v1 Policy", p.APIVersion, p.Kind)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if len(p.Rules) == 0 {
		return nil, fmt.Errorf("a policy with no rules records nothing: give at least one rule")
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		for _, s := range p.OmitStages {
			if !slices.Contains(r.OmitStages, s) {
				r.OmitStages = append(r.OmitStages, s)
			}
		}
		if r.OmitManagedFields == nil {
			v := p.OmitManagedFields
			r.OmitManagedFields = &v
		}
	}
	return &p, nil
}

func validStage(s Stage) bool {
	switch s {
	case StageRequestReceived, StageResponseStarted, StageResponseComplete, StagePanic:
		return true
	}
	return false
}

func (p *Policy) validate() error {
	for _, s := range p.OmitStages {
		if !validStage(s) {
			return fmt.Errorf("omitStages: unknown stage %q", s)
		}
	}
	for i, r := range p.Rules {
		f := fmt.Sprintf("rules[%d]", i)
		switch r.Level {
		case LevelNone, LevelMetadata, LevelRequest, LevelRequestResponse:
		case "":
			return fmt.Errorf("%s.level: required", f)
		default:
			return fmt.Errorf("%s.level: unknown level %q (None, Metadata, Request or RequestResponse)", f, r.Level)
		}
		for _, s := range r.OmitStages {
			if !validStage(s) {
				return fmt.Errorf("%s.omitStages: unknown stage %q", f, s)
			}
		}
		if len(r.NonResourceURLs) > 0 && (len(r.Resources) > 0 || len(r.Namespaces) > 0) {
			return fmt.Errorf("%s: nonResourceURLs cannot be combined with resources or namespaces", f)
		}
		for j, u := range r.NonResourceURLs {
			if u != "*" && !strings.HasPrefix(u, "/") {
				return fmt.Errorf("%s.nonResourceURLs[%d]: %q must start with \"/\"", f, j, u)
			}
			if k := strings.Index(u, "*"); k >= 0 && k != len(u)-1 {
				return fmt.Errorf("%s.nonResourceURLs[%d]: %q: \"*\" is allowed only at the end", f, j, u)
			}
		}
		for j, gr := range r.Resources {
			if strings.Contains(gr.Group, "/") {
				return fmt.Errorf("%s.resources[%d].group: %q names a group, not a group/version", f, j, gr.Group)
			}
			if len(gr.ResourceNames) > 0 && len(gr.Resources) == 0 {
				return fmt.Errorf("%s.resources[%d]: resourceNames need resources", f, j)
			}
			for _, res := range gr.Resources {
				if res == "" {
					return fmt.Errorf("%s.resources[%d].resources: empty resource", f, j)
				}
			}
		}
	}
	return nil
}

// LevelAndStages returns the level and the omitted stages of the first rule
// matching a; None when no rule matches. It allocates nothing, so deciding
// that a request is not recorded is cheap.
func (p *Policy) LevelAndStages(a auth.Attributes) (Level, []Stage) {
	if r := p.ruleFor(&a); r != nil {
		return r.Level, r.OmitStages
	}
	return LevelNone, p.OmitStages
}

func (p *Policy) ruleFor(a *auth.Attributes) *PolicyRule {
	for i := range p.Rules {
		if p.Rules[i].matches(a) {
			return &p.Rules[i]
		}
	}
	return nil
}

func (r *PolicyRule) matches(a *auth.Attributes) bool {
	if len(r.Users) > 0 && (a.User == nil || !slices.Contains(r.Users, a.User.Name)) {
		return false
	}
	if len(r.UserGroups) > 0 {
		if a.User == nil {
			return false
		}
		in := false
		for _, g := range a.User.Groups {
			if slices.Contains(r.UserGroups, g) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, a.Verb) {
		return false
	}
	if len(r.Namespaces) > 0 || len(r.Resources) > 0 {
		return r.matchesResource(a)
	}
	if len(r.NonResourceURLs) > 0 {
		if a.IsResourceRequest() {
			return false
		}
		for _, u := range r.NonResourceURLs {
			if u == "*" || u == a.Path || (strings.HasSuffix(u, "*") && strings.HasPrefix(a.Path, u[:len(u)-1])) {
				return true
			}
		}
		return false
	}
	return true
}

func (r *PolicyRule) matchesResource(a *auth.Attributes) bool {
	if !a.IsResourceRequest() {
		return false
	}
	if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, a.Namespace) {
		return false
	}
	if len(r.Resources) == 0 {
		return true
	}
	for _, gr := range r.Resources {
		if gr.Group != a.Group {
			continue
		}
		if len(gr.Resources) == 0 {
			return true
		}
		if len(gr.ResourceNames) > 0 && !slices.Contains(gr.ResourceNames, a.Name) {
			continue
		}
		for _, res := range gr.Resources {
			if resourceMatches(res, a.Resource, a.Subresource) {
				return true
			}
		}
	}
	return false
}

// resourceMatches matches one rule entry against resource/subresource:
// "*" matches anything, "*/sub" any resource's sub, "res/*" res and its
// subresources, else the exact "res" or "res/sub".
func resourceMatches(pattern, resource, subresource string) bool {
	if pattern == "*" {
		return true
	}
	if sub, ok := strings.CutPrefix(pattern, "*/"); ok {
		return subresource != "" && sub == subresource
	}
	if res, ok := strings.CutSuffix(pattern, "/*"); ok {
		return res == resource
	}
	if subresource == "" {
		return pattern == resource
	}
	return len(pattern) == len(resource)+1+len(subresource) &&
		strings.HasPrefix(pattern, resource) && pattern[len(resource)] == '/' && strings.HasSuffix(pattern, subresource)
}
