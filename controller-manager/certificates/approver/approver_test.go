package approver

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	authorizationv1 "minik8s/api/authorization/v1"
	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/certificates/certtest"
)

func TestApprove(t *testing.T) {
	kubelet := certificatesv1.KubeAPIServerClientKubeletSignerName
	serving := certificatesv1.KubeletServingSignerName
	nodeReq, _ := certtest.Request(t, "system:node:n1", []string{"system:nodes"}, nil, nil)
	userReq, _ := certtest.Request(t, "jane", []string{"dev"}, nil, nil)
	servingReq, _ := certtest.Request(t, "system:node:n1", []string{"system:nodes"}, []string{"n1"}, []net.IP{net.ParseIP("10.0.0.1")})
	foreignReq, _ := certtest.Request(t, "system:node:n1", []string{"system:nodes"}, []string{"evil.example.com"}, nil)
	otherNodeReq, _ := certtest.Request(t, "system:node:n2", []string{"system:nodes"}, []string{"n2"}, nil)
	boot := []string{"system:bootstrappers", "system:authenticated"}
	nodes := []string{"system:nodes", "system:authenticated"}
	clientUsages := []string{"digital signature", "client auth"}
	servingUsages := []string{"digital signature", "server auth"}

	// The policy: bootstrappers may create nodeclient, nodes selfnodeclient.
	allow := map[string]string{"system:bootstrappers": "nodeclient", "system:nodes": "selfnodeclient"}
	tests := []struct {
		name     string
		csr      *certificatesv1.CertificateSigningRequest
		want     string // the approval message, "" for none
		wantErr  bool
		reviewed string // subresources reviewed
	}{
		{"bootstrap token joins", certtest.CSR("a", nodeReq, kubelet, "system:bootstrap:abcdef", boot, clientUsages...),
			NodeClientMessage, false, "nodeclient"},
		{"node renews its own", certtest.CSR("a", nodeReq, kubelet, "system:node:n1", nodes, clientUsages...),
			SelfNodeClientMessage, false, "selfnodeclient"},
		{"node asks for another node's", certtest.CSR("a", otherNodeClient(t), kubelet, "system:node:n1", nodes, clientUsages...),
			"", true, "nodeclient"},
		{"user without rights", certtest.CSR("a", nodeReq, kubelet, "jane", []string{"dev"}, clientUsages...),
			"", true, "nodeclient"},
		{"not a node subject", certtest.CSR("a", userReq, kubelet, "system:bootstrap:abcdef", boot, clientUsages...),
			"", false, ""},
		{"user signer is for people", certtest.CSR("a", userReq, certificatesv1.KubeAPIServerClientSignerName, "system:bootstrap:abcdef", boot, "client auth"),
			"", false, ""},
		{"serving for own addresses", certtest.CSR("a", servingReq, serving, "system:node:n1", nodes, servingUsages...),
			ServingMessage, false, ""},
		{"serving for a foreign name", certtest.CSR("a", foreignReq, serving, "system:node:n1", nodes, servingUsages...),
			"", false, ""},
		{"serving asked by another node", certtest.CSR("a", servingReq, serving, "system:node:n2", nodes, servingUsages...),
			"", false, ""},
		{"serving for a node not known", certtest.CSR("a", otherNodeReq, serving, "system:node:n2", nodes, servingUsages...),
			"", false, ""},
		{"serving by a bootstrapper", certtest.CSR("a", servingReq, serving, "system:bootstrap:abcdef", boot, servingUsages...),
			"", false, ""},
		{"already approved", approved(certtest.CSR("a", nodeReq, kubelet, "system:bootstrap:abcdef", boot, clientUsages...)),
			"", false, ""},
	}
	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}, Status: &corev1.NodeStatus{Addresses: []*corev1.NodeAddress{
		{Type: "InternalIP", Address: "10.0.0.1"}, {Type: "Hostname", Address: "n1"}}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reviewed []string
			var got *certificatesv1.CertificateSigningRequest
			c := New(Config{
				Informer:     fake.Informer(t, tt.csr),
				NodeInformer: fake.Informer(t, node),
				Approve: func(_ context.Context, csr *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, error) {
					got = csr
					return csr, nil
				},
				Review: func(_ context.Context, sar *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error) {
					ra := sar.GetSpec().GetResourceAttributes()
					if ra.GetVerb() != "create" || ra.GetGroup() != "certificates.k8s.io" || ra.GetResource() != "certificatesigningrequests" {
						return nil, errors.New("unexpected review")
					}
					reviewed = append(reviewed, ra.GetSubresource())
					sar.Status = &authorizationv1.SubjectAccessReviewStatus{}
					for _, g := range sar.GetSpec().GetGroups() {
						if allow[g] == ra.GetSubresource() {
							sar.Status.Allowed = true
						}
					}
					return sar, nil
				},
			})
			err := c.sync(context.Background(), "a")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if r := strings.Join(reviewed, ","); !strings.HasSuffix(r, tt.reviewed) || (tt.reviewed == "" && r != "") {
				t.Errorf("reviewed %q, want ...%q", r, tt.reviewed)
			}
			msg := ""
			if got != nil {
				conds := got.GetStatus().GetConditions()
				last := conds[len(conds)-1]
				if last.GetType() != "Approved" || last.GetStatus() != "True" || last.GetReason() != Reason {
					t.Errorf("condition %v", last)
				}
				msg = last.GetMessage()
			}
			if msg != tt.want {
				t.Errorf("approval %q, want %q", msg, tt.want)
			}
		})
	}
}

func otherNodeClient(t *testing.T) []byte {
	req, _ := certtest.Request(t, "system:node:n2", []string{"system:nodes"}, nil, nil)
	return req
}

func approved(c *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequest {
	c.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{{Type: "Approved", Status: "True"}}}
	return c
}
