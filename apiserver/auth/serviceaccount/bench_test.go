package serviceaccount

import (
	"context"
	"crypto"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// mapGetter answers from a map, so the benchmark measures the token
// checks, not storage.
type mapGetter map[string]scheme.Object

func (m mapGetter) Get(_ context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error) {
	return m[k.Resource+"/"+ns+"/"+name], nil
}

// BenchmarkVerify is the cost of authenticating one bound
// service-account token (signature, claims, two lookups):
// go test -bench Verify ./apiserver/auth/serviceaccount
func BenchmarkVerify(b *testing.B) {
	rk, ek := testKeys(b)
	sa := &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder", Namespace: "default", Uid: "sa-uid"}}
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web-1", Namespace: "default", Uid: "pod-uid"}}
	get := mapGetter{"serviceaccounts/default/builder": sa, "pods/default/web-1": pod}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"RS256", rk}, {"ES256", ek}} {
		b.Run(tc.name, func(b *testing.B) {
			iss := &Issuer{Signer: mustSigner(b, tc.key), Issuer: DefaultIssuer}
			tok, _, err := iss.Issue(Binding{ServiceAccount: sa, Pod: pod}, nil, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			a := &Authenticator{Issuers: []string{DefaultIssuer}, Audiences: []string{DefaultIssuer}, Getter: get,
				Keys: []PublicKey{mustPublic(b, tc.key.Public())}}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok, err := a.AuthenticateToken(ctx, tok); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
