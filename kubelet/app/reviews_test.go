package app

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"minik8s/kubelet/server"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// TestAPIReviewer asks a real apiserver: TokenReviews for tokens,
// SubjectAccessReviews for access (allowed under AlwaysAllow; under
// AlwaysDeny even the review is refused, which is an error, not a no).
func TestAPIReviewer(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokFile, []byte("bob-token,bob,42,\"dev,ops\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	etcd := etcdtest.Start(t, 1)
	allow := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "AlwaysAllow",
		TokenAuthFile: tokFile})
	deny := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "AlwaysDeny", PKI: allow.PKI})
	ctx := context.Background()

	r, err := NewAPIReviewer(allow.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	u, ok, err := r.ReviewToken(ctx, "bob-token")
	if err != nil || !ok || u.Name != "bob" || u.UID != "42" || strings.Join(u.Groups, ",") != "dev,ops,system:authenticated" {
		t.Errorf("ReviewToken(bob-token) = %+v, %v, %v", u, ok, err)
	}
	if u, ok, err := r.ReviewToken(ctx, "nope"); err != nil || ok {
		t.Errorf("ReviewToken(nope) = %+v, %v, %v", u, ok, err)
	}
	a := server.Attributes{User: &server.User{Name: "bob", Groups: []string{"dev"}, Extra: map[string][]string{"k": {"v"}}},
		Verb: "get", Resource: "nodes", Subresource: "stats", Name: "n1"}
	if ok, _, err := r.ReviewAccess(ctx, a); err != nil || !ok {
		t.Errorf("AlwaysAllow: ReviewAccess = %v, %v", ok, err)
	}

	d, err := NewAPIReviewer(deny.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := d.ReviewAccess(ctx, a); err == nil || ok {
		t.Errorf("AlwaysDeny: ReviewAccess = %v, %v; want the review refused", ok, err)
	}
}

func TestAuthFlags(t *testing.T) {
	var o Options
	fs := flag.NewFlagSet("kubelet", flag.ContinueOnError)
	o.AddFlags(fs)
	if o.AuthorizationMode != "AlwaysAllow" || o.AuthenticationTokenWebhook || o.AuthenticationTokenWebhookCacheTTL != 2*time.Minute ||
		o.AuthorizationWebhookCacheAuthorizedTTL != 5*time.Minute || o.AuthorizationWebhookCacheUnauthorizedTTL != 30*time.Second {
		t.Errorf("defaults %+v", o)
	}
	if err := fs.Parse([]string{"--authorization-mode=Webhook", "--authentication-token-webhook", "--authorization-webhook-cache-authorized-ttl=1m"}); err != nil {
		t.Fatal(err)
	}
	if o.AuthorizationMode != "Webhook" || !o.AuthenticationTokenWebhook || o.AuthorizationWebhookCacheAuthorizedTTL != time.Minute {
		t.Errorf("parsed %+v", o)
	}
	if _, _, err := o.reviewers(nil); err == nil {
		t.Error("Webhook without an apiserver accepted")
	}
	o.AuthorizationMode = "RBAC"
	if err := RunWith(context.Background(), o, Deps{}, nil); err == nil || !strings.Contains(err.Error(), `unknown mode "RBAC"`) {
		t.Errorf("unknown mode: %v", err)
	}
}
