// Package certificatesv1 holds the certificates.k8s.io/v1 kinds.
package certificatesv1

import "minik8s/api/scheme"

// Group is the API group of these kinds.
const Group = "certificates.k8s.io"

// Condition types of a CertificateSigningRequest.
const (
	Approved = "Approved"
	Denied   = "Denied"
	Failed   = "Failed"
)

// Signer names built into the controller-manager, as Kubernetes names them.
const (
	KubeAPIServerClientSignerName        = "kubernetes.io/kube-apiserver-client"
	KubeAPIServerClientKubeletSignerName = "kubernetes.io/kube-apiserver-client-kubelet"
	KubeletServingSignerName             = "kubernetes.io/kubelet-serving"
)

// Key usages a request may name (Kubernetes' KeyUsage strings).
const (
	UsageDigitalSignature = "digital signature"
	UsageKeyEncipherment  = "key encipherment"
	UsageClientAuth       = "client auth"
	UsageServerAuth       = "server auth"
)

// Kind is the CertificateSigningRequest kind: cluster-scoped, with status
// (written by signers) and approval subresources.
var Kind = &scheme.Kind{Group: Group, Version: "v1", Kind: "CertificateSigningRequest",
	Resource: "certificatesigningrequests", ShortNames: []string{"csr"}, HasStatus: true,
	New: func() scheme.Object { return &CertificateSigningRequest{} }}

func init() { scheme.Register(Kind) }
