// Package all registers every kind: import it for its side effect.
package all

import (
	_ "minik8s/api/apps/v1"
	_ "minik8s/api/authentication/v1" // TokenReview, SelfSubjectReview; TokenRequest for serviceaccounts/token
	_ "minik8s/api/authorization/v1"  // access reviews (kubectl auth can-i)
	_ "minik8s/api/autoscaling/v1"    // Scale, the scale subresource's kind
	_ "minik8s/api/autoscaling/v2"
	_ "minik8s/api/batch/v1"
	_ "minik8s/api/certificates/v1" // CertificateSigningRequest (kubelet bootstrap, kubectl certificate approve)
	_ "minik8s/api/coordination/v1"
	_ "minik8s/api/core/v1"
	_ "minik8s/api/metrics/v1beta1" // NodeMetrics, PodMetrics: served, not stored
	_ "minik8s/api/networking/v1"
	_ "minik8s/api/policy/v1"
	_ "minik8s/api/rbac/v1" // Role, ClusterRole, RoleBinding, ClusterRoleBinding
)
