package certificate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/pki"
)

// CSR is the kind the kubelet posts.
type CSR = certificatesv1.CertificateSigningRequest

// Request is one certificate a kubelet asks its cluster for.
type Request struct {
	// Subject names the holder: CN system:node:NAME, O system:nodes.
	Subject pkix.Name
	// DNSNames and IPs are the subject alternative names (serving only).
	DNSNames []string
	IPs      []net.IP
	// SignerName is the signer that is to issue it (kube-apiserver-client-
	// kubelet or kubelet-serving).
	SignerName string
	// Usages are Kubernetes' key usage strings.
	Usages []string
	// ExpirationSeconds asks for a lifetime (spec.expirationSeconds); 0
	// leaves it to the signer.
	ExpirationSeconds int32
}

// ClientRequest is the kubelet's client certificate request for node, as
// Kubernetes' kubelet makes it.
func ClientRequest(node string) Request {
	return Request{
		Subject:    pkix.Name{CommonName: pki.NodeUserPrefix + node, Organization: []string{pki.GroupNodes}},
		SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
		Usages:     []string{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
	}
}

// ServingRequest is the kubelet's serving certificate request for node
// reachable at hostnames and ips (the Node's status.addresses).
func ServingRequest(node string, hostnames []string, ips []net.IP) Request {
	return Request{
		Subject:    pkix.Name{CommonName: pki.NodeUserPrefix + node, Organization: []string{pki.GroupNodes}},
		DNSNames:   hostnames,
		IPs:        ips,
		SignerName: certificatesv1.KubeletServingSignerName,
		Usages:     []string{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth},
	}
}

// ErrRefused wraps the error of a request that was Denied or Failed: a
// new request of the same kind will not fare better on its own, so the
// caller says so instead of retrying quietly.
var ErrRefused = errors.New("certificate signing request refused")

// RequestCertificate makes a new ECDSA P-256 key, posts a
// CertificateSigningRequest for req through csrs (named csr-XXXXX), and
// waits, watching it, until it is approved and its certificate issued. It
// returns the certificate and key as PEM. A Denied or Failed request is
// an error wrapping ErrRefused that carries the condition's reason and
// message; a deleted one is an error too. It gives up when ctx ends.
func RequestCertificate(ctx context.Context, csrs client.Interface[*CSR], req Request, log *slog.Logger) (certPEM, keyPEM []byte, err error) {
	if log == nil {
		log = slog.Default()
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: req.Subject, DNSNames: req.DNSNames, IPAddresses: req.IPs,
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make certificate request: %w", err)
	}
	keyPEM, err = pki.EncodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	obj := &CSR{
		Metadata: &metav1.ObjectMeta{GenerateName: "csr-"},
		Spec: &certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: req.SignerName,
			Usages:     req.Usages,
		},
	}
	if req.ExpirationSeconds > 0 {
		obj.Spec.ExpirationSeconds = &req.ExpirationSeconds
	}
	created, err := csrs.Create(ctx, obj)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate signing request (signer %s): %w", req.SignerName, err)
	}
	name := created.GetMetadata().GetName()
	log.Info("certificate signing request posted, waiting for approval and issuance", "csr", name, "signer", req.SignerName, "subject", req.Subject.CommonName)
	certPEM, err = waitIssued(ctx, csrs, created)
	if err != nil {
		return nil, nil, err
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, nil, fmt.Errorf("certificate signing request %s: the issued certificate does not match the key: %w", name, err)
	}
	log.Info("certificate issued", "csr", name, "signer", req.SignerName)
	return certPEM, keyPEM, nil
}

// waitIssued watches csr until it has a certificate or is refused. A
// broken watch is re-opened from the last version seen, after reading
// the object again (so nothing that happened meanwhile is missed).
func waitIssued(ctx context.Context, csrs client.Interface[*CSR], csr *CSR) ([]byte, error) {
	name := csr.GetMetadata().GetName()
	for {
		if cert, done, err := issued(csr); done || err != nil {
			return cert, err
		}
		w, err := csrs.Watch(ctx, "", client.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: csr.GetMetadata().GetResourceVersion()})
		if err == nil {
			for ev := range w.ResultChan() {
				switch ev.Type {
				case client.Added, client.Modified:
					csr = ev.Object
					if cert, done, err := issued(csr); done || err != nil {
						w.Stop()
						return cert, err
					}
				case client.Deleted:
					w.Stop()
					return nil, fmt.Errorf("certificate signing request %s was deleted before it was issued", name)
				}
			}
			w.Stop()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("certificate signing request %s: not issued: %w", name, ctx.Err())
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("certificate signing request %s: not issued: %w", name, ctx.Err())
		case <-time.After(time.Second):
		}
		fresh, err := csrs.Get(ctx, "", name)
		if err != nil {
			continue // the next round watches from the last version seen
		}
		csr = fresh
	}
}

// issued reads csr's state: its certificate once approved and issued,
// done without a certificate never, an ErrRefused error when Denied or
// Failed.
func issued(csr *CSR) (cert []byte, done bool, err error) {
	approved := false
	for _, c := range csr.GetStatus().GetConditions() {
		if c.GetStatus() != "" && c.GetStatus() != corev1.ConditionTrue {
			continue
		}
		switch c.GetType() {
		case certificatesv1.Denied, certificatesv1.Failed:
			why := c.GetReason()
			if m := c.GetMessage(); m != "" {
				why += ": " + m
			}
			verb := "denied"
			if c.GetType() == certificatesv1.Failed {
				verb = "failed"
			}
			return nil, true, fmt.Errorf("%w: certificate signing request %s was %s (%s)", ErrRefused, csr.GetMetadata().GetName(), verb, why)
		case certificatesv1.Approved:
			approved = true
		}
	}
	if approved && len(csr.GetStatus().GetCertificate()) > 0 {
		return csr.GetStatus().GetCertificate(), true, nil
	}
	return nil, false, nil
}
