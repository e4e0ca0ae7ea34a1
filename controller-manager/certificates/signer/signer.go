// Package signer is Kubernetes' csrsigning controller: it signs approved
// requests of the three kubernetes.io signers
// (kube-apiserver-client, kube-apiserver-client-kubelet, kubelet-serving)
// with the cluster CA (--cluster-signing-cert-file and
// --cluster-signing-key-file) and writes the certificate through the
// status subresource. A request the signer's rules refuse gets the Failed
// condition (reason SignerValidationFailure) instead; other signers'
// requests are left to their signers.
package signer

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	certificatesv1 "minik8s/api/certificates/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/pki"
	"minik8s/controller-manager/controller"
)

// Name is the controller's name in --controllers.
const Name = "csrsigning"

// DefaultDuration is --cluster-signing-duration's default (a year).
const DefaultDuration = 8760 * time.Hour

// backdate is how far before now a certificate becomes valid, for
// clocks a little behind (Kubernetes: five minutes).
const backdate = 5 * time.Minute

// FailedReason is the reason of the Failed condition it writes.
const FailedReason = "SignerValidationFailure"

// Signers are the signer names this controller signs for.
var Signers = []string{
	certificatesv1.KubeAPIServerClientSignerName,
	certificatesv1.KubeAPIServerClientKubeletSignerName,
	certificatesv1.KubeletServingSignerName,
}

// CA is the signing certificate and key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// LoadCA reads the CA's certificate and key (PEM files).
func LoadCA(certFile, keyFile string) (*CA, error) {
	kp, err := pki.ReadKeyPairFiles(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster signing CA: %w", err)
	}
	return &CA{Cert: kp.Cert, Key: kp.Key}, nil
}

// CAFromPEM parses a CA's certificate and key.
func CAFromPEM(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := pki.ParseCerts(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: certs[0], Key: key}, nil
}

// Lifetime is the certificate lifetime of a request: expirationSeconds
// when set and shorter than max (Kubernetes keeps at least 10 minutes),
// else max.
func Lifetime(expirationSeconds *int32, max time.Duration) time.Duration {
	if expirationSeconds == nil {
		return max
	}
	d := time.Duration(*expirationSeconds) * time.Second
	if d < 10*time.Minute {
		d = 10 * time.Minute
	}
	return min(d, max)
}

// KeyUsages maps request usages to the certificate's key usage and
// extended key usages; an unknown usage is an error.
func KeyUsages(usages []string) (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	var ku x509.KeyUsage
	var eku []x509.ExtKeyUsage
	for _, u := range usages {
		if k, ok := keyUsages[u]; ok {
			ku |= k
			continue
		}
		if e, ok := extKeyUsages[u]; ok {
			eku = append(eku, e)
			continue
		}
		return 0, nil, fmt.Errorf("unknown key usage %q", u)
	}
	return ku, eku, nil
}

var keyUsages = map[string]x509.KeyUsage{
	"signing":                            x509.KeyUsageDigitalSignature,
	certificatesv1.UsageDigitalSignature: x509.KeyUsageDigitalSignature,
	"content commitment":                 x509.KeyUsageContentCommitment,
	certificatesv1.UsageKeyEncipherment:  x509.KeyUsageKeyEncipherment,
	"key agreement":                      x509.KeyUsageKeyAgreement,
	"data encipherment":                  x509.KeyUsageDataEncipherment,
	"cert sign":                          x509.KeyUsageCertSign,
	"crl sign":                           x509.KeyUsageCRLSign,
	"encipher only":                      x509.KeyUsageEncipherOnly,
	"decipher only":                      x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[string]x509.ExtKeyUsage{
	"any":                          x509.ExtKeyUsageAny,
	certificatesv1.UsageServerAuth: x509.ExtKeyUsageServerAuth,
	certificatesv1.UsageClientAuth: x509.ExtKeyUsageClientAuth,
	"code signing":                 x509.ExtKeyUsageCodeSigning,
	"email protection":             x509.ExtKeyUsageEmailProtection,
	"s/mime":                       x509.ExtKeyUsageEmailProtection,
	"ipsec end system":             x509.ExtKeyUsageIPSECEndSystem,
	"ipsec tunnel":                 x509.ExtKeyUsageIPSECTunnel,
	"ipsec user":                   x509.ExtKeyUsageIPSECUser,
	"timestamping":                 x509.ExtKeyUsageTimeStamping,
	"ocsp signing":                 x509.ExtKeyUsageOCSPSigning,
	"microsoft sgc":                x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"netscape sgc":                 x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// Sign issues a certificate for req: its subject and SANs, the usages
// mapped to key usages, valid from now-5m for lifetime but never past the
// CA's own NotAfter. It returns the PEM certificate.
func (ca *CA) Sign(req *x509.CertificateRequest, usages []string, lifetime time.Duration, now time.Time) ([]byte, error) {
	if !now.Before(ca.Cert.NotAfter) {
		return nil, errors.New("refusing to sign a certificate: the signing CA has expired")
	}
	ku, eku, err := KeyUsages(usages)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(lifetime)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: req.Subject,
		DNSNames: req.DNSNames, IPAddresses: req.IPAddresses, EmailAddresses: req.EmailAddresses, URIs: req.URIs,
		NotBefore: now.Add(-backdate), NotAfter: notAfter,
		KeyUsage: ku, ExtKeyUsage: eku, BasicConstraintsValid: true, IsCA: false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, req.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// Config wires a Controller.
type Config struct {
	Informer *informer.Informer[*certificatesv1.CertificateSigningRequest]
	// UpdateStatus writes a request's status subresource.
	UpdateStatus func(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, error)
	CA           *CA
	// Duration is the longest lifetime it gives (--cluster-signing-duration).
	Duration time.Duration
	Metrics  *controller.Metrics
}

// Controller signs approved requests.
type Controller struct {
	controller.Base
	csrs         *informer.Lister[*certificatesv1.CertificateSigningRequest]
	updateStatus func(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, error)
	ca           *CA
	duration     time.Duration
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{Base: controller.NewBase(Name, nil, cfg.Metrics, nil), updateStatus: cfg.UpdateStatus, ca: cfg.CA, duration: cfg.Duration}
	if c.duration <= 0 {
		c.duration = DefaultDuration
	}
	c.csrs = controller.Lister(&c.Base, cfg.Informer)
	c.Sync = c.sync
	cfg.Informer.AddEventHandler(informer.HandlerFuncs[*certificatesv1.CertificateSigningRequest]{
		AddFunc:    func(o *certificatesv1.CertificateSigningRequest) { c.Enqueue(o) },
		UpdateFunc: func(_, o *certificatesv1.CertificateSigningRequest) { c.Enqueue(o) },
	})
	return c
}

func ours(signer string) bool {
	for _, s := range Signers {
		if s == signer {
			return true
		}
	}
	return false
}

func (c *Controller) sync(ctx context.Context, key string) error {
	csr, err := c.csrs.Get("", key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	spec := csr.GetSpec()
	if !ours(spec.GetSignerName()) || !certificatesv1.IsApproved(csr) || certificatesv1.IsIssued(csr) || certificatesv1.IsFailed(csr) {
		return nil
	}
	next := proto.Clone(csr).(*certificatesv1.CertificateSigningRequest)
	req, err := certificatesv1.ParseRequest(spec.GetRequest())
	if err == nil {
		err = certificatesv1.ValidateForSigner(spec.GetSignerName(), req, spec.GetUsages())
	}
	if err != nil {
		now := timestamppb.New(c.Now())
		next.Status.Conditions = append(next.Status.Conditions, &certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.Failed, Status: corev1.ConditionTrue, Reason: FailedReason, Message: err.Error(), LastUpdateTime: now, LastTransitionTime: now,
		})
		c.Log.Info("refusing to sign", "csr", key, "signer", spec.GetSignerName(), "err", err)
	} else {
		cert, err := c.ca.Sign(req, spec.GetUsages(), Lifetime(spec.ExpirationSeconds, c.duration), c.Now())
		if err != nil {
			return fmt.Errorf("sign csr %s: %w", key, err)
		}
		next.Status.Certificate = cert
	}
	if _, err := c.updateStatus(ctx, next); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update csr %s status: %w", key, err)
	}
	if len(next.Status.Certificate) > 0 {
		c.Log.Info("signed certificate", "csr", key, "signer", spec.GetSignerName(), "subject", req.Subject.String())
	}
	return nil
}
