package cmd

import (
	"strings"
	"testing"

	certificatesv1 "minik8s/api/certificates/v1"
	metav1 "minik8s/api/meta/v1"
)

func TestCertificateApproveDeny(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"jane", "bob", "done"} {
		h.cluster.Add(&certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: n},
			Spec: &certificatesv1.CertificateSigningRequestSpec{SignerName: certificatesv1.KubeAPIServerClientSignerName}})
	}
	tests := []struct {
		args     []string
		wantOut  string
		wantErr  string
		wantCond string // conditions of args' last name afterwards
	}{
		{[]string{"certificate", "approve", "jane"}, "certificatesigningrequest.certificates.k8s.io/jane approved\n", "", "Approved/KubectlApprove"},
		{[]string{"certificate", "approve", "jane"}, "certificatesigningrequest.certificates.k8s.io/jane approved\n", "", "Approved/KubectlApprove"},
		{[]string{"certificate", "deny", "bob"}, "certificatesigningrequest.certificates.k8s.io/bob denied\n", "", "Denied/KubectlDeny"},
		{[]string{"certificate", "approve", "bob"}, "", `certificate signing request "bob" is already Denied`, "Denied/KubectlDeny"},
		{[]string{"certificate", "deny", "jane"}, "", `certificate signing request "jane" is already Approved`, "Approved/KubectlApprove"},
		{[]string{"certificate", "approve", "missing"}, "", `not found`, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := h.run("", tt.args...)
			if out != tt.wantOut || (tt.wantErr == "") != (code == 0) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("out %q err %q code %d", out, errOut, code)
			}
			name := tt.args[len(tt.args)-1]
			obj := h.cluster.Get("certificatesigningrequests", "", name)
			if obj == nil {
				return
			}
			var got []string
			for _, c := range obj.(*certificatesv1.CertificateSigningRequest).GetStatus().GetConditions() {
				got = append(got, c.GetType()+"/"+c.GetReason())
			}
			if strings.Join(got, ",") != tt.wantCond {
				t.Errorf("conditions %v, want %s", got, tt.wantCond)
			}
		})
	}
}

func TestGetCSR(t *testing.T) {
	h := newHarness(t)
	h.cluster.Add(&certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: "jane"},
		Spec:   &certificatesv1.CertificateSigningRequestSpec{SignerName: certificatesv1.KubeAPIServerClientSignerName, Username: "admin"},
		Status: &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{{Type: "Approved", Status: "True"}}}})
	out, errOut, code := h.run("", "get", "csr")
	want := "NAME   AGE   SIGNERNAME                            REQUESTOR   REQUESTEDDURATION   CONDITION\n" +
		"jane   60s   kubernetes.io/kube-apiserver-client   admin       <none>              Approved\n"
	if code != 0 || out != want {
		t.Fatalf("code %d err %q out\n%s", code, errOut, out)
	}
}
