package generic_test

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/registry/rest"
)

// TestUnencodableValuesAreRefused: values the stored JSON could not carry
// back are Invalid on create, update and status update, naming the field,
// and nothing is stored (issue 13's poison objects).
func TestUnencodableValuesAreRefused(t *testing.T) {
	st, _ := newStore(t)
	ctx := ctxFor(t)
	far := &timestamppb.Timestamp{Seconds: 300000000000}

	_, err := st.Create(ctx, kind(t, "leases"), "default", &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "l", Namespace: "default"},
		Spec: &coordinationv1.LeaseSpec{RenewTime: far}}, rest.WriteOptions{})
	wantInvalid(t, err, "spec.renewTime", "outside years 0001-9999")

	_, err = st.Create(ctx, kind(t, "controllerrevisions"), "default", &appsv1.ControllerRevision{Metadata: &metav1.ObjectMeta{Name: "r", Namespace: "default"},
		Data: &structpb.Struct{Fields: map[string]*structpb.Value{"x": structpb.NewNumberValue(math.NaN())}}, Revision: 1}, rest.WriteOptions{})
	wantInvalid(t, err, "data[x]", "finite")

	p := mustCreate(t, st, "pods", pod("p", ""))
	bad := clone(p)
	bad.Status = &corev1.PodStatus{StartTime: &timestamppb.Timestamp{Seconds: 253402300800}}
	_, err = st.Update(ctx, kind(t, "pods"), "default", bad, "status", rest.WriteOptions{})
	wantInvalid(t, err, "status.startTime", "outside years 0001-9999")
	if _, err := st.Get(ctx, kind(t, "pods"), "default", "p"); err != nil {
		t.Fatalf("the pod is unreadable after the refused write: %v", err)
	}
	if _, err := st.Get(ctx, kind(t, "leases"), "default", "l"); err == nil {
		t.Fatal("the refused lease was stored")
	}
}

func wantInvalid(t *testing.T, err error, field, detail string) {
	t.Helper()
	wantReason(t, field, err, "Invalid")
	if !strings.Contains(err.Error(), field+": Invalid value: ") || !strings.Contains(err.Error(), detail) {
		t.Fatalf("error %q does not name %s (%s)", err, field, detail)
	}
}

// TestMalformedResourceVersionIsBadRequest: an update whose
// resourceVersion is not a revision at all is the client's mistake
// (BadRequest), not a lost race (Conflict).
func TestMalformedResourceVersionIsBadRequest(t *testing.T) {
	st, _ := newStore(t)
	p := mustCreate(t, st, "pods", pod("rv", ""))
	for _, rv := range []string{"abc", "-5", "1.5"} {
		upd := clone(p)
		upd.Metadata.ResourceVersion = rv
		_, err := st.Update(ctxFor(t), kind(t, "pods"), "default", upd, "", rest.WriteOptions{})
		wantReason(t, "update with resourceVersion "+rv, err, "BadRequest")
	}
}
