package audit

import (
	"context"
	"testing"

	"minik8s/apiserver/auth"
)

// BenchmarkRequest: the cost auditing adds to one request, for a request
// the policy does not record (our components' reads) and one it records
// at Metadata (into a discarding backend).
func BenchmarkRequest(b *testing.B) {
	p, err := LoadPolicy("../../deploy/audit/policy.yaml")
	if err != nil {
		b.Fatal(err)
	}
	node := &auth.User{Name: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}}
	admin := &auth.User{Name: "kubernetes-admin", Groups: []string{"system:masters", "system:authenticated"}}
	for _, bc := range []struct {
		name string
		a    auth.Attributes
	}{
		{"None (a kubelet gets its pod)", auth.Attributes{User: node, Verb: "get", Resource: "pods", Namespace: "default", Name: "web"}},
		{"Metadata (admin lists pods)", auth.Attributes{User: admin, Verb: "list", Resource: "pods", Namespace: "default"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a := New(p, discard{})
			info := RequestInfo{RequestURI: "/minik8s.rpc.API/Get", SourceIPs: []string{"10.0.0.1"}, UserAgent: "grpc-go/1.85.0"}
			b.ReportAllocs()
			for b.Loop() {
				ctx, r := a.Begin(context.Background(), info)
				r.Describe(bc.a, "v1")
				r.Evaluate(bc.a, "v1")
				_, _, _ = r.Authorizer(allow{}).Authorize(ctx, bc.a)
				r.Complete(200, nil)
			}
		})
	}
}

type discard struct{}

func (discard) ProcessEvents(...[]byte) bool { return true }
func (discard) Shutdown()                    {}
