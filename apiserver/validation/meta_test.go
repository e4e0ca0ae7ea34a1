package validation

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	metav1 "minik8s/api/meta/v1"
)

func TestValidateObjectMeta(t *testing.T) {
	valid := func() *metav1.ObjectMeta {
		return &metav1.ObjectMeta{
			Name: "web-1", Namespace: "default",
			Labels:      map[string]string{"app": "web", "example.com/tier": "front"},
			Annotations: map[string]string{"kubernetes.io/change-cause": "anything at all"},
			OwnerReferences: []*metav1.OwnerReference{
				{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", Uid: "u1", Controller: new(true)},
			},
			Finalizers: []string{"example.com/cleanup"},
		}
	}
	cases := []struct {
		name       string
		namespaced bool
		rule       func(string) []string
		mutate     func(*metav1.ObjectMeta)
		field      string // "" = valid
	}{
		{"valid", true, IsDNS1123Subdomain, func(*metav1.ObjectMeta) {}, ""},
		{"generateName only", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Name, m.GenerateName = "", "web-" }, ""},
		{"no name", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Name = "" }, "metadata.name"},
		{"bad name", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Name = "Web_1" }, "metadata.name"},
		{"bad generateName", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Name, m.GenerateName = "", "Web_" }, "metadata.generateName"},
		{"label rule for namespaces", false, IsDNS1123Label, func(m *metav1.ObjectMeta) { m.Namespace, m.Name = "", "a.b" }, "metadata.name"},
		{"service rule", true, NameRule("services"), func(m *metav1.ObjectMeta) { m.Name = "1web" }, "metadata.name"},
		{"no namespace", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Namespace = "" }, "metadata.namespace"},
		{"bad namespace", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Namespace = "kube.system" }, "metadata.namespace"},
		{"namespace on cluster kind", false, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) {}, "metadata.namespace"},
		{"bad label key", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Labels["-bad"] = "x" }, "metadata.labels"},
		{"bad label value", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Labels["app"] = "a b" }, "metadata.labels[app]"},
		{"bad annotation key", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Annotations["a/b/c"] = "" }, "metadata.annotations"},
		{"annotations too large", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Annotations["big"] = strings.Repeat("x", TotalAnnotationSizeLimit) }, "metadata.annotations"},
		{"owner without uid", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.OwnerReferences[0].Uid = "" }, "metadata.ownerReferences[0].uid"},
		{"owner without kind", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.OwnerReferences[0].Kind = "" }, "metadata.ownerReferences[0].kind"},
		{"owner without apiVersion", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.OwnerReferences[0].ApiVersion = "" }, "metadata.ownerReferences[0].apiVersion"},
		{"owner without name", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.OwnerReferences[0].Name = "" }, "metadata.ownerReferences[0].name"},
		{"two controllers", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) {
			m.OwnerReferences = append(m.OwnerReferences, &metav1.OwnerReference{ApiVersion: "v1", Kind: "X", Name: "x", Uid: "u2", Controller: new(true)})
		}, "metadata.ownerReferences"},
		{"bad finalizer", true, IsDNS1123Subdomain, func(m *metav1.ObjectMeta) { m.Finalizers = []string{"a b"} }, "metadata.finalizers[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			md := valid()
			c.mutate(md)
			errs := ValidateObjectMeta(md, c.namespaced, c.rule, "metadata")
			if c.field == "" {
				if len(errs) > 0 {
					t.Fatalf("want valid, got %v", errs)
				}
				return
			}
			for _, e := range errs {
				if e.Field == c.field {
					return
				}
			}
			t.Fatalf("want an error at %s, got %v", c.field, errs)
		})
	}
}

func TestNameRequiredMessage(t *testing.T) {
	errs := ValidateObjectMeta(&metav1.ObjectMeta{Namespace: "default"}, true, IsDNS1123Subdomain, "metadata")
	if len(errs) != 1 || errs[0].String() != "metadata.name: Required value: name or generateName is required" {
		t.Fatalf("got %v", errs)
	}
}

func TestValidateObjectMetaUpdate(t *testing.T) {
	old := &metav1.ObjectMeta{Name: "a", Namespace: "default", Uid: "u1", CreationTimestamp: timestamppb.New(time.Unix(1000, 0))}
	for _, c := range []struct {
		field  string
		mutate func(*metav1.ObjectMeta)
	}{
		{"", func(m *metav1.ObjectMeta) { m.Labels = map[string]string{"new": "label"} }},
		{"metadata.name", func(m *metav1.ObjectMeta) { m.Name = "b" }},
		{"metadata.namespace", func(m *metav1.ObjectMeta) { m.Namespace = "other" }},
		{"metadata.uid", func(m *metav1.ObjectMeta) { m.Uid = "u2" }},
		{"metadata.creationTimestamp", func(m *metav1.ObjectMeta) { m.CreationTimestamp = timestamppb.New(time.Unix(2000, 0)) }},
	} {
		next := proto.Clone(old).(*metav1.ObjectMeta)
		c.mutate(next)
		errs := ValidateObjectMetaUpdate(next, old, "metadata")
		switch {
		case c.field == "" && len(errs) > 0:
			t.Errorf("want valid, got %v", errs)
		case c.field != "" && (len(errs) != 1 || errs[0].Field != c.field || !strings.HasSuffix(errs[0].Detail, "field is immutable")):
			t.Errorf("want %s immutable, got %v", c.field, errs)
		}
	}
}

func TestValidateLabelSelector(t *testing.T) {
	for _, c := range []struct {
		sel   *metav1.LabelSelector
		field string
	}{
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, ""},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "env", Operator: "In", Values: []string{"prod"}}}}, ""},
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "a b"}}, "sel.matchLabels[app]"},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "env", Operator: "In"}}}, "sel.matchExpressions[0].values"},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "env", Operator: "Exists", Values: []string{"x"}}}}, "sel.matchExpressions[0].values"},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "env", Operator: "Gt"}}}, "sel.matchExpressions[0].operator"},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "", Operator: "Exists"}}}, "sel.matchExpressions[0].key"},
	} {
		errs := ValidateLabelSelector(c.sel, "sel")
		if c.field == "" && len(errs) > 0 || c.field != "" && (len(errs) == 0 || errs[0].Field != c.field) {
			t.Errorf("%v: want %q, got %v", c.sel, c.field, errs)
		}
	}
}

func TestValidateWorkloadSelector(t *testing.T) {
	tl := map[string]string{"app": "web", "tier": "front"}
	for _, c := range []struct {
		sel   *metav1.LabelSelector
		field string
	}{
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, ""},
		{nil, "spec.selector"},
		{&metav1.LabelSelector{}, "spec.selector"},
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, "spec.template.metadata.labels"},
	} {
		errs := ValidateWorkloadSelector(c.sel, tl, "spec.selector", "spec.template.metadata.labels")
		if c.field == "" && len(errs) > 0 || c.field != "" && (len(errs) == 0 || errs[0].Field != c.field) {
			t.Errorf("%v: want %q, got %v", c.sel, c.field, errs)
		}
	}
	errs := ValidateWorkloadSelector(&metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, tl, "spec.selector", "spec.template.metadata.labels")
	if want := "spec.template.metadata.labels: Invalid value: \"app=web,tier=front\": `selector` does not match template `labels`"; errs[0].String() != want {
		t.Errorf("got %q\nwant %q", errs[0].String(), want)
	}
}

func TestNameRule(t *testing.T) {
	if len(NameRule("namespaces")("a.b")) == 0 {
		t.Error("namespaces: a.b must be refused (label)")
	}
	if len(NameRule("pods")("a.b")) != 0 {
		t.Error("pods: a.b is a valid subdomain")
	}
	if len(NameRule("clusterroles")("system:node")) != 0 {
		t.Error("clusterroles: system:node is a valid path segment")
	}
}

func TestChangedFields(t *testing.T) {
	a := &metav1.ObjectMeta{Name: "a", Labels: map[string]string{"x": "1"}}
	b := &metav1.ObjectMeta{Name: "a", Labels: map[string]string{"x": "2"}, DeletionGracePeriodSeconds: new(int64(0))}
	got := ChangedFields(a, b)
	if strings.Join(got, ",") != "deletionGracePeriodSeconds,labels" {
		t.Errorf("got %v", got)
	}
}
