// Package certificate gets and renews the kubelet's certificates from its
// cluster, as Kubernetes' kubelet does: TLS bootstrap with a bootstrap
// token (LoadClientCert), and a Manager per certificate (client, serving)
// that posts a CertificateSigningRequest, waits for a signer to issue it,
// keeps it in --cert-dir (Store) and renews it at a jittered 70-90% of its
// lifetime, handing the new one to TLS without a restart.
package certificate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"minik8s/api/client"
	"minik8s/api/workqueue"
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Name says which certificate this is in logs and errors ("client",
	// "serving").
	Name string
	// Store keeps the pairs on disk.
	Store *Store
	// Initial is the pair to start with when the store holds none (a
	// kubeconfig's embedded certificate); nil for none.
	Initial *tls.Certificate
	// Request returns what to ask for now: a function, so a serving
	// certificate follows the Node's current addresses.
	Request func() Request
	// CSRs returns the client to post requests with, called per attempt:
	// a renewal authenticates with the certificate in use, through the
	// client that uses this Manager.
	CSRs func() (client.Interface[*CSR], error)
	// Clock drives rotation and retries (the wall clock if nil).
	Clock workqueue.Clock
	// Jitter returns a number in [0, 1) placing the rotation deadline
	// between 70% and 90% of the lifetime (rand.Float64 if nil).
	Jitter func() float64
	// WaitTimeout bounds the wait for one request to be issued before a
	// new one is posted (default 15 minutes, as Kubernetes').
	WaitTimeout time.Duration
	// OnRotate, if set, runs after a new pair is in use (the client
	// closes its connections so the next ones present it).
	OnRotate func(*tls.Certificate)
	Log      *slog.Logger
}

// Manager holds one certificate of the kubelet and renews it. Its
// GetClientCertificate and GetCertificate methods plug into tls.Config,
// so connections made after a rotation present the new certificate.
// It is safe for concurrent use.
type Manager struct {
	cfg ManagerConfig
	log *slog.Logger

	mu       sync.RWMutex
	cert     *tls.Certificate
	deadline time.Time
}

// Retry back-off of failed requests: 2s doubling to 5 minutes, as
// Kubernetes' certificate manager backs off.
const (
	retryBase = 2 * time.Second
	retryMax  = 5 * time.Minute
)

// NewManager returns a Manager holding the stored pair (or cfg.Initial).
// A stored pair that cannot be read is logged and treated as none: the
// Manager requests a new one.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = workqueue.RealClock{}
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Float64
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 15 * time.Minute
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	m := &Manager{cfg: cfg, log: log.With("certificate", cfg.Name)}
	cert, err := cfg.Store.Current()
	switch {
	case err == nil:
		m.set(cert)
	case errors.Is(err, ErrNoCert):
		if cfg.Initial != nil {
			m.set(cfg.Initial)
		}
	default:
		m.log.Warn("stored certificate unreadable; a new one will be requested", "err", err)
		if cfg.Initial != nil {
			m.set(cfg.Initial)
		}
	}
	return m
}

// Current returns the pair in use, nil before the first is issued.
func (m *Manager) Current() *tls.Certificate {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.cert
}

// RotationDeadline is when the pair in use is to be renewed (zero when
// there is none): its notBefore plus 70-90% of its lifetime, fixed when
// the pair was taken.
func (m *Manager) RotationDeadline() time.Time {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.deadline
}

// GetClientCertificate is tls.Config.GetClientCertificate: the pair in
// use, or none (an empty certificate) before the first is issued.
func (m *Manager) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if c := m.Current(); c != nil {
		return c, nil
	}
	return &tls.Certificate{}, nil
}

// GetCertificate is tls.Config.GetCertificate: the pair in use; before the
// first is issued the handshake fails with a clear error.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := m.Current(); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no %s certificate available for the kubelet yet (its certificate signing request is not issued)", m.cfg.Name)
}

// set takes cert into use and places its rotation deadline.
func (m *Manager) set(cert *tls.Certificate) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cert = cert
	m.deadline = time.Time{}
	if cert.Leaf != nil {
		life := cert.Leaf.NotAfter.Sub(cert.Leaf.NotBefore)
		frac := 0.7 + 0.2*m.cfg.Jitter()
		m.deadline = cert.Leaf.NotBefore.Add(time.Duration(float64(life) * frac).Round(time.Second))
	}
}

// Rotate requests a new pair now and takes it into use: stored, then the
// symlink swapped, then handed to TLS, then OnRotate.
func (m *Manager) Rotate(ctx context.Context) error {
	csrs, err := m.cfg.CSRs()
	if err != nil {
		return fmt.Errorf("%s certificate: %w", m.cfg.Name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, m.cfg.WaitTimeout)
	defer cancel()
	certPEM, keyPEM, err := RequestCertificate(wctx, csrs, m.cfg.Request(), m.log)
	if err != nil {
		return fmt.Errorf("%s certificate: %w", m.cfg.Name, err)
	}
	cert, err := m.cfg.Store.Update(certPEM, keyPEM)
	if err != nil {
		return err
	}
	m.set(cert)
	m.log.Info("certificate rotated", "file", m.cfg.Store.CurrentPath(), "notAfter", cert.Leaf.NotAfter.UTC().Format(time.RFC3339), "nextRotation", m.RotationDeadline().UTC().Format(time.RFC3339))
	if m.cfg.OnRotate != nil {
		m.cfg.OnRotate(cert)
	}
	return nil
}

// Run keeps a valid pair until ctx ends: it requests one at once when
// there is none or it has expired, otherwise at the rotation deadline;
// a failed request is retried with back-off (2s doubling to 5 minutes).
func (m *Manager) Run(ctx context.Context) {
	clock := m.cfg.Clock
	backoff := retryBase
	for {
		wait := time.Duration(0)
		if c := m.Current(); c != nil && ValidAt(c, clock.Now()) {
			wait = m.RotationDeadline().Sub(clock.Now())
		}
		if wait > 0 {
			m.log.Info("certificate valid; rotation scheduled", "notAfter", m.Current().Leaf.NotAfter.UTC().Format(time.RFC3339), "rotateIn", wait.Round(time.Second).String())
			select {
			case <-ctx.Done():
				return
			case <-clock.After(wait):
			}
		}
		if err := m.Rotate(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, ErrRefused) {
				m.log.Error("certificate request refused; will ask again", "err", err, "retryIn", backoff.String())
			} else {
				m.log.Warn("certificate request failed; will retry", "err", err, "retryIn", backoff.String())
			}
			select {
			case <-ctx.Done():
				return
			case <-clock.After(backoff):
			}
			backoff = min(2*backoff, retryMax)
			continue
		}
		backoff = retryBase
	}
}
