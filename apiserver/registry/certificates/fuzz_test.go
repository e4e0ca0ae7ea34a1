package certificates

import (
	"net"
	"testing"

	certificatesv1 "minik8s/api/certificates/v1"
)

// FuzzValidateRequest feeds arbitrary bytes as spec.request through
// parsing and validation for every built-in signer: it must never panic,
// and whatever parses must also pass or fail the signer checks cleanly.
func FuzzValidateRequest(f *testing.F) {
	f.Add(makeRequest(f, "jane", []string{"developers"}, nil, nil), "client auth")
	f.Add(makeRequest(f, "system:node:n1", []string{"system:nodes"}, nil, nil), "digital signature")
	f.Add(makeRequest(f, "system:node:n1", []string{"system:nodes"}, []string{"n1"}, []net.IP{net.ParseIP("10.0.0.1")}), "server auth")
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), "client auth")
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, req []byte, usage string) {
		_, _ = certificatesv1.ParseRequest(req)
		for _, signer := range []string{certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName,
			certificatesv1.KubeletServingSignerName, "example.com/other"} {
			c := csrOf(req, signer, usage, "digital signature")
			_ = Strategy{}.Validate(c)
		}
	})
}
