package cmd

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	authenticationv1 "minik8s/api/authentication/v1"
	authorizationv1 "minik8s/api/authorization/v1"
	"minik8s/api/client"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// reviewer answers the access reviews: get and list are allowed, and the
// rules review returns rules; it records the last review.
type reviewer struct {
	last  scheme.Object
	rules *authorizationv1.SubjectRulesReviewStatus
	cfg   *client.Config
}

func (r *reviewer) Resource(*scheme.Kind) (ResourceAPI, error)                 { return r, nil }
func (r *reviewer) Discovery(context.Context) ([]*rpc.APIResource, error)      { return nil, nil }
func (r *reviewer) Close() error                                               { return nil }
func (r *reviewer) Get(context.Context, string, string) (scheme.Object, error) { return nil, errNo }
func (r *reviewer) List(context.Context, string, client.ListOptions) (*client.List[scheme.Object], error) {
	return nil, errNo
}
func (r *reviewer) Update(context.Context, scheme.Object) (scheme.Object, error) { return nil, errNo }
func (r *reviewer) Delete(context.Context, string, string, *metav1.DeleteOptions) (scheme.Object, error) {
	return nil, errNo
}
func (r *reviewer) Watch(context.Context, string, client.ListOptions) (client.Watch[scheme.Object], error) {
	return nil, errNo
}

var errNo = errors.New("not served")

func (r *reviewer) Create(_ context.Context, obj scheme.Object) (scheme.Object, error) {
	r.last = obj
	switch o := obj.(type) {
	case *authorizationv1.SelfSubjectAccessReview:
		ra := o.GetSpec().GetResourceAttributes()
		verb := ra.GetVerb() + o.GetSpec().GetNonResourceAttributes().GetVerb()
		o.Status = &authorizationv1.SubjectAccessReviewStatus{Allowed: verb == "get" || verb == "list"}
		if verb == "delete" {
			o.Status.Denied, o.Status.Reason = true, "nope"
		}
		return o, nil
	case *authenticationv1.SelfSubjectReview:
		o.Status = &authenticationv1.SelfSubjectReviewStatus{UserInfo: &authenticationv1.UserInfo{Username: "jane", Uid: "42",
			Groups: []string{"g", "system:authenticated"}, Extra: map[string]*structpb.ListValue{"scopes": {Values: []*structpb.Value{structpb.NewStringValue("view")}}}}}
		return o, nil
	case *authorizationv1.SelfSubjectRulesReview:
		o.Status = r.rules
		return o, nil
	}
	return nil, errNo
}

func runCanI(t *testing.T, r *reviewer, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	o := &Options{Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" },
		Connect: func(cfg *client.Config) (Cluster, error) { r.cfg = cfg; return r, nil }}
	code := o.Run(context.Background(), append([]string{"--server", "https://127.0.0.1:1", "auth", "can-i"}, args...))
	return out.String(), errOut.String(), code
}

func TestCanI(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		out, err   string
		code       int
		attrs      *authorizationv1.ResourceAttributes
		nonRes     *authorizationv1.NonResourceAttributes
		impersonat client.Impersonation
	}{
		{name: "yes", args: []string{"get", "pods"}, out: "yes\n",
			attrs: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Namespace: "default"}},
		{name: "no", args: []string{"create", "deploy/web", "-n", "prod"}, out: "no\n", code: 1,
			attrs: &authorizationv1.ResourceAttributes{Verb: "create", Group: "apps", Resource: "deployments", Name: "web", Namespace: "prod"}},
		{name: "no with reason", args: []string{"delete", "pods", "-A"}, out: "no - nope\n", code: 1,
			attrs: &authorizationv1.ResourceAttributes{Verb: "delete", Resource: "pods"}},
		{name: "quiet", args: []string{"create", "pods", "-q"}, code: 1},
		{name: "subresource", args: []string{"get", "pods", "--subresource", "log"}, out: "yes\n",
			attrs: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Subresource: "log", Namespace: "default"}},
		{name: "path", args: []string{"get", "/healthz"}, out: "yes\n", nonRes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/healthz"}},
		{name: "unknown type", args: []string{"list", "widgets.example.com"}, out: "yes\n",
			err:   "Warning: the server doesn't have a resource type 'widgets.example.com'\n",
			attrs: &authorizationv1.ResourceAttributes{Verb: "list", Group: "example.com", Resource: "widgets", Namespace: "default"}},
		{name: "as", args: []string{"get", "pods", "--as", "jane", "--as-group", "a", "--as-group", "b"}, out: "yes\n",
			impersonat: client.Impersonation{User: "jane", Groups: []string{"a", "b"}}},
		{name: "one argument", args: []string{"get"}, code: 1,
			err: "error: you must specify two arguments: verb resource or verb resource/resourceName. See 'minictl auth can-i -h' for help and examples\n"},
		{name: "group without user", args: []string{"get", "pods", "--as-group", "g"}, code: 1,
			err: "error: requesting uid or groups requires a user to impersonate (--as)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &reviewer{}
			out, errOut, code := runCanI(t, r, tc.args...)
			if out != tc.out || errOut != tc.err || code != tc.code {
				t.Fatalf("got %q %q exit %d, want %q %q exit %d", out, errOut, code, tc.out, tc.err, tc.code)
			}
			if tc.attrs != nil || tc.nonRes != nil {
				spec := r.last.(*authorizationv1.SelfSubjectAccessReview).GetSpec()
				if !proto.Equal(spec.GetResourceAttributes(), tc.attrs) || !proto.Equal(spec.GetNonResourceAttributes(), tc.nonRes) {
					t.Errorf("asked %v", spec)
				}
			}
			if tc.impersonat.User != "" && (r.cfg.Impersonate.User != tc.impersonat.User || strings.Join(r.cfg.Impersonate.Groups, ",") != strings.Join(tc.impersonat.Groups, ",")) {
				t.Errorf("impersonation %+v", r.cfg.Impersonate)
			}
		})
	}
}

func TestCanIList(t *testing.T) {
	r := &reviewer{rules: &authorizationv1.SubjectRulesReviewStatus{
		ResourceRules: []*authorizationv1.ResourceRule{
			{Verbs: []string{"get", "list"}, ApiGroups: []string{""}, Resources: []string{"pods", "pods/log"}},
			{Verbs: []string{"watch"}, ApiGroups: []string{""}, Resources: []string{"pods"}},
			{Verbs: []string{"*"}, ApiGroups: []string{"*"}, Resources: []string{"*"}},
			{Verbs: []string{"get"}, ApiGroups: []string{"apps"}, Resources: []string{"deployments"}, ResourceNames: []string{"web", "db"}},
		},
		NonResourceRules: []*authorizationv1.NonResourceRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz", "/version"}}},
	}}
	out, errOut, code := runCanI(t, r, "--list", "-n", "ns1")
	want := `Resources          Non-Resource URLs     Resource Names   Verbs
*.*                []                    []               [*]
deployments.apps   []                    [web db]         [get]
pods               []                    []               [get list watch]
pods/log           []                    []               [get list]
                   [/healthz /version]   []               [get]
`
	if out != want || errOut != "" || code != 0 {
		t.Errorf("got exit %d %q\n%s\nwant\n%s", code, errOut, out, want)
	}
	if ns := r.last.(*authorizationv1.SelfSubjectRulesReview).GetSpec().GetNamespace(); ns != "ns1" {
		t.Errorf("namespace %q", ns)
	}
	out, _, _ = runCanI(t, r, "--list", "--no-headers")
	if strings.HasPrefix(out, "Resources") {
		t.Errorf("headers printed:\n%s", out)
	}
	if _, errOut, code := runCanI(t, r, "--list", "get"); code != 1 || errOut != "error: list option must be specified with no arguments\n" {
		t.Errorf("--list with arguments: exit %d %q", code, errOut)
	}
}

func TestWhoAmI(t *testing.T) {
	r := &reviewer{}
	var out, errOut bytes.Buffer
	o := &Options{Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" },
		Connect: func(cfg *client.Config) (Cluster, error) { r.cfg = cfg; return r, nil }}
	code := o.Run(context.Background(), []string{"--server", "https://127.0.0.1:1", "auth", "whoami", "--as", "jane"})
	want := `ATTRIBUTE       VALUE
Username        jane
UID             42
Groups          [g system:authenticated]
Extra: scopes   [view]
`
	if code != 0 || out.String() != want || errOut.String() != "" {
		t.Errorf("exit %d %q\n%s\nwant\n%s", code, errOut.String(), out.String(), want)
	}
	if r.cfg.Impersonate.User != "jane" {
		t.Errorf("impersonation %+v", r.cfg.Impersonate)
	}
}
