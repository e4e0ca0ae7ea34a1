// Package cleaner is Kubernetes' csrcleaner controller: it deletes
// certificate signing requests nobody needs any more - approved, denied
// or failed ones an hour after that decision, pending ones a day after
// they were made, and any whose issued certificate has expired.
//
// Kubernetes polls every hour; this controller queues each request
// again at its own deadline, so it goes on time.
package cleaner

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	certificatesv1 "minik8s/api/certificates/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/controller"
)

// Name is the controller's name in --controllers.
const Name = "csrcleaner"

// How long requests are kept (Kubernetes' values).
const (
	ApprovedExpiration = time.Hour
	DeniedExpiration   = time.Hour
	FailedExpiration   = time.Hour
	PendingExpiration  = 24 * time.Hour
)

// Deadline returns when csr is to be deleted and why. A condition
// without lastUpdateTime never expires (as in Kubernetes); a pending
// request without a creationTimestamp neither.
func Deadline(csr *certificatesv1.CertificateSigningRequest) (time.Time, string) {
	var at time.Time
	var why string
	earlier := func(t time.Time, reason string) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at, why = t, reason
		}
	}
	conds := csr.GetStatus().GetConditions()
	for _, c := range conds {
		if c.LastUpdateTime == nil {
			continue
		}
		t := c.LastUpdateTime.AsTime()
		switch c.GetType() {
		case certificatesv1.Approved:
			earlier(t.Add(ApprovedExpiration), "approved more than an hour ago")
		case certificatesv1.Denied:
			earlier(t.Add(DeniedExpiration), "denied more than an hour ago")
		case certificatesv1.Failed:
			earlier(t.Add(FailedExpiration), "failed more than an hour ago")
		}
	}
	if len(conds) == 0 && len(csr.GetStatus().GetCertificate()) == 0 {
		if ts := csr.GetMetadata().GetCreationTimestamp(); ts != nil {
			earlier(ts.AsTime().Add(PendingExpiration), "pending for more than a day")
		}
	}
	if na, ok := certificateExpiry(csr.GetStatus().GetCertificate()); ok {
		earlier(na, "its certificate has expired")
	}
	return at, why
}

// certificateExpiry is the earliest NotAfter of the PEM certificates.
func certificateExpiry(data []byte) (time.Time, bool) {
	var first time.Time
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		if first.IsZero() || cert.NotAfter.Before(first) {
			first = cert.NotAfter
		}
	}
	return first, !first.IsZero()
}

// Config wires a Controller.
type Config struct {
	Informer *informer.Informer[*certificatesv1.CertificateSigningRequest]
	// Delete deletes a request by name.
	Delete  func(ctx context.Context, name string, opts *metav1.DeleteOptions) error
	Metrics *controller.Metrics
}

// Controller deletes expired requests.
type Controller struct {
	controller.Base
	csrs   *informer.Lister[*certificatesv1.CertificateSigningRequest]
	delete func(ctx context.Context, name string, opts *metav1.DeleteOptions) error
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{Base: controller.NewBase(Name, nil, cfg.Metrics, nil), delete: cfg.Delete}
	c.csrs = controller.Lister(&c.Base, cfg.Informer)
	c.Sync = c.sync
	cfg.Informer.AddEventHandler(informer.HandlerFuncs[*certificatesv1.CertificateSigningRequest]{
		AddFunc:    func(o *certificatesv1.CertificateSigningRequest) { c.Enqueue(o) },
		UpdateFunc: func(_, o *certificatesv1.CertificateSigningRequest) { c.Enqueue(o) },
	})
	return c
}

func (c *Controller) sync(ctx context.Context, key string) error {
	csr, err := c.csrs.Get("", key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	at, why := Deadline(csr)
	if at.IsZero() {
		return nil
	}
	if wait := at.Sub(c.Now()); wait > 0 {
		c.Queue.AddAfter(key, wait+time.Second)
		return nil
	}
	// Only the version judged expired: a request changed meanwhile is
	// judged again when its update arrives.
	uid := csr.GetMetadata().GetUid()
	opts := &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{Uid: uid, ResourceVersion: csr.GetMetadata().GetResourceVersion()}}
	if err := c.delete(ctx, key, opts); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete csr %s: %w", key, err)
	}
	c.Log.Info("deleted certificate signing request", "csr", key, "reason", why)
	return nil
}
