package generic_test

import (
	"testing"

	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry/rest"
)

// TestSkeletonOfEveryKind sends every stored kind with nothing but a name
// through create, update, status update and delete: each either works or
// is refused with an API error - never a panic (issue 13: an Ingress
// without a spec crashed its strategy).
func TestSkeletonOfEveryKind(t *testing.T) {
	st, _ := newStore(t)
	ctx := ctxFor(t)
	for _, k := range scheme.All() {
		if st.Cache(k) == nil {
			continue // served, not stored (reviews, metrics)
		}
		t.Run(k.Resource, func(t *testing.T) {
			ns := ""
			if k.Namespaced {
				ns = "default"
			}
			obj := k.New()
			scheme.SetTypeMeta(obj, k)
			*scheme.Meta(obj) = metav1.ObjectMeta{Name: "skeleton", Namespace: ns}
			out, err := st.Create(ctx, k, ns, obj, rest.WriteOptions{})
			if err != nil {
				return // refused (Invalid) is fine; a panic fails the test
			}
			bare := k.New()
			*scheme.Meta(bare) = metav1.ObjectMeta{Name: "skeleton", Namespace: ns}
			_, _ = st.Update(ctx, k, ns, bare, "", rest.WriteOptions{})
			if k.HasStatus {
				_, _ = st.Update(ctx, k, ns, bare, "status", rest.WriteOptions{})
			}
			if _, err := st.Delete(ctx, k, ns, out.GetMetadata().GetName(), nil, rest.WriteOptions{}); err != nil {
				t.Logf("delete: %v", err)
			}
		})
	}
}
