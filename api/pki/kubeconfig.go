package pki

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfigCertFiles writes a kubeconfig like WriteKubeconfig's
// whose user names its certificate and key by path (client-certificate,
// client-key) instead of embedding them, and whose cluster trusts caPEM:
// what a kubelet writes after TLS bootstrap, pointing at its
// kubelet-client-current.pem so that a rotated certificate is used
// without rewriting the file. The file is 0600.
func WriteKubeconfigCertFiles(file, server string, caPEM []byte, certFile, keyFile, user string) error {
	return writeKubeconfig(file, server, caPEM, user, &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile})
}

// writeKubeconfig writes, 0600, the kubeconfig both writers share: one
// cluster "kubernetes" at server trusting caPEM, the user's credentials
// and the current context "USER@kubernetes".
func writeKubeconfig(file, server string, caPEM []byte, user string, auth *clientcmdapi.AuthInfo) error {
	ctxName := user + "@kubernetes"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubernetes"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = auth
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: "kubernetes", AuthInfo: user}
	cfg.CurrentContext = ctxName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", file, err)
	}
	if err := WriteFile(file, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", file, err)
	}
	return nil
}
