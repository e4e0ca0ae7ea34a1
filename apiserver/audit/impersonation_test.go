package audit

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"minik8s/apiserver/auth"
)

// TestImpersonatedUser: a user impersonated by another (auth.User.
// Impersonator) is recorded as Kubernetes does: user is who
// authenticated, impersonatedUser whom it acts as; the policy matches the
// authenticated user.
func TestImpersonatedUser(t *testing.T) {
	actingJane := *jane
	actingJane.Impersonator = admin
	policy := "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  users: [kubernetes-admin]\n- level: None\n"
	for _, door := range []bool{true, false} {
		a, m := testAuditor(t, policy)
		_, r := a.Begin(context.Background(), RequestInfo{RequestURI: "/api/v1/namespaces/default/pods", Received: time.Date(2026, 12, 5, 10, 0, 1, 0, time.UTC)})
		if door { // REST: the door sets the user first
			r.SetUser(&actingJane)
		}
		r.Evaluate(auth.Attributes{User: &actingJane, Verb: "list", Resource: "pods", Namespace: "default"}, "v1")
		r.Complete(200, nil)
		if len(m.lines) == 0 {
			t.Fatalf("door=%v: nothing recorded (the policy must match the authenticated user)", door)
		}
		var ev struct {
			User             UserInfo  `json:"user"`
			ImpersonatedUser *UserInfo `json:"impersonatedUser"`
		}
		if err := json.Unmarshal([]byte(m.lines[len(m.lines)-1]), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.User.Username != "kubernetes-admin" || ev.ImpersonatedUser == nil || ev.ImpersonatedUser.Username != "jane" {
			t.Errorf("door=%v: user %+v impersonated %+v", door, ev.User, ev.ImpersonatedUser)
		}
	}
}
