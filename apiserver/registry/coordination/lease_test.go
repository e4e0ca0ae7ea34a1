package coordination

import (
	"testing"

	coordinationv1 "minik8s/api/coordination/v1"
	vt "minik8s/apiserver/validation/validationtest"
)

func validLease() *coordinationv1.Lease {
	return &coordinationv1.Lease{Metadata: vt.Meta("kube-scheduler", "kube-system", nil), Spec: &coordinationv1.LeaseSpec{
		HolderIdentity: new("master-1_abc"), LeaseDurationSeconds: new(int32(15)), LeaseTransitions: new(int32(0)),
	}}
}

func TestLeaseValidate(t *testing.T) {
	vt.Validate(t, "leases", validLease, []vt.Case[*coordinationv1.Lease]{
		vt.C("zero duration", func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = new(int32(0)) }, "spec.leaseDurationSeconds"),
		vt.C("negative transitions", func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = new(int32(-1)) }, "spec.leaseTransitions"),
		vt.C("unset duration", func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = nil }, ""),
		vt.C("no spec", func(l *coordinationv1.Lease) { l.Spec = nil }, ""),
	})
}
