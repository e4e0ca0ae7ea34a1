// Package approver is Kubernetes' csrapproving controller: it approves
// kubelet client certificate requests (signer
// kubernetes.io/kube-apiserver-client-kubelet) whose requestor may create
// certificatesigningrequests/nodeclient (a bootstrap token joining a
// node) or, for a node renewing its own certificate (CN = requestor),
// certificatesigningrequests/selfnodeclient - asked with a
// SubjectAccessReview, as Kubernetes does.
//
// Unlike Kubernetes, which leaves kubelet serving certificates to an
// external approver, it also approves a kubernetes.io/kubelet-serving
// request when the requestor is system:node:NAME in system:nodes, the
// subject is that node, and every DNS and IP subject alternative name is
// one of the Node's status.addresses: a kubelet then gets a serving
// certificate the apiserver can verify for that node, and nothing else.
//
// It never denies: what it does not approve stays pending for a person.
package approver

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	authorizationv1 "minik8s/api/authorization/v1"
	certificatesv1 "minik8s/api/certificates/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	"minik8s/controller-manager/controller"
)

// Name is the controller's name in --controllers.
const Name = "csrapproving"

// Reason is the reason of the Approved conditions it writes.
const Reason = "AutoApproved"

// The messages of its Approved conditions.
const (
	SelfNodeClientMessage = "Auto approving self kubelet client certificate after SubjectAccessReview."
	NodeClientMessage     = "Auto approving kubelet client certificate after SubjectAccessReview."
	ServingMessage        = "Auto approving kubelet serving certificate: the requestor is the node and every subject alternative name is one of its addresses."
)

// Config wires a Controller.
type Config struct {
	Informer     *informer.Informer[*certificatesv1.CertificateSigningRequest]
	NodeInformer *informer.Informer[*corev1.Node]
	// Approve writes a request's approval subresource.
	Approve func(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, error)
	// Review creates a SubjectAccessReview and returns it with its status.
	Review  func(ctx context.Context, sar *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error)
	Metrics *controller.Metrics
}

// Controller approves node certificate requests.
type Controller struct {
	controller.Base
	csrs    *informer.Lister[*certificatesv1.CertificateSigningRequest]
	nodes   *informer.Lister[*corev1.Node]
	approve func(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, error)
	review  func(ctx context.Context, sar *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error)
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	c := &Controller{Base: controller.NewBase(Name, nil, cfg.Metrics, nil), approve: cfg.Approve, review: cfg.Review}
	c.csrs = controller.Lister(&c.Base, cfg.Informer)
	c.Sync = c.sync
	cfg.Informer.AddEventHandler(informer.HandlerFuncs[*certificatesv1.CertificateSigningRequest]{
		AddFunc:    func(o *certificatesv1.CertificateSigningRequest) { c.Enqueue(o) },
		UpdateFunc: func(_, o *certificatesv1.CertificateSigningRequest) { c.Enqueue(o) },
	})
	if cfg.NodeInformer != nil {
		c.nodes = controller.Lister(&c.Base, cfg.NodeInformer)
		// A serving request may come before its Node reports the
		// addresses it names: look again when the Node changes.
		nodeChanged := func(n *corev1.Node) {
			user := certificatesv1.NodeUserPrefix + n.GetMetadata().GetName()
			for _, csr := range c.csrs.List(labels.Everything()) {
				if csr.GetSpec().GetUsername() == user && pending(csr) {
					c.Enqueue(csr)
				}
			}
		}
		cfg.NodeInformer.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
			AddFunc: nodeChanged,
			// Heartbeats update Nodes all the time; only new addresses
			// can change an answer.
			UpdateFunc: func(old, n *corev1.Node) {
				if !slices.EqualFunc(old.GetStatus().GetAddresses(), n.GetStatus().GetAddresses(), func(a, b *corev1.NodeAddress) bool {
					return a.GetType() == b.GetType() && a.GetAddress() == b.GetAddress()
				}) {
					nodeChanged(n)
				}
			},
		})
	}
	return c
}

func pending(csr *certificatesv1.CertificateSigningRequest) bool {
	return !certificatesv1.IsIssued(csr) && !certificatesv1.ConditionTrue(csr, certificatesv1.Approved) && !certificatesv1.IsDenied(csr)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	csr, err := c.csrs.Get("", key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !pending(csr) {
		return nil
	}
	req, err := certificatesv1.ParseRequest(csr.GetSpec().GetRequest())
	if err != nil {
		return nil // validation keeps such requests out; nothing to approve
	}
	msg, err := c.decide(ctx, csr, req)
	if err != nil || msg == "" {
		return err
	}
	next := proto.Clone(csr).(*certificatesv1.CertificateSigningRequest)
	if next.Status == nil {
		next.Status = &certificatesv1.CertificateSigningRequestStatus{}
	}
	now := timestamppb.New(c.Now())
	next.Status.Conditions = append(next.Status.Conditions, &certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.Approved, Status: corev1.ConditionTrue, Reason: Reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now,
	})
	if _, err := c.approve(ctx, next); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("approve csr %s: %w", key, err)
	}
	c.Log.Info("approved certificate signing request", "csr", key, "requestor", csr.GetSpec().GetUsername(), "signer", csr.GetSpec().GetSignerName())
	return nil
}

// decide returns the approval message, or "" to leave the request alone.
// An error retries later (a review that failed, a Node not yet known).
func (c *Controller) decide(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) (string, error) {
	spec := csr.GetSpec()
	switch spec.GetSignerName() {
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		if certificatesv1.ValidateKubeletClient(req, spec.GetUsages()) != nil {
			return "", nil
		}
		var tried []string
		if spec.GetUsername() == req.Subject.CommonName {
			tried = append(tried, "selfnodeclient")
			ok, err := c.allowed(ctx, spec, "selfnodeclient")
			if err != nil || ok {
				return SelfNodeClientMessage, err
			}
		}
		tried = append(tried, "nodeclient")
		ok, err := c.allowed(ctx, spec, "nodeclient")
		if err != nil || ok {
			return NodeClientMessage, err
		}
		// Kubernetes retries such a request (an "ignorable" error): a
		// binding may be added a moment later.
		return "", fmt.Errorf("recognized csr %q as %v but subject access review was not approved", csr.GetMetadata().GetName(), tried)
	case certificatesv1.KubeletServingSignerName:
		return c.decideServing(spec, req)
	}
	return "", nil
}

// allowed asks whether the requestor may create
// certificatesigningrequests/subresource.
func (c *Controller) allowed(ctx context.Context, spec *certificatesv1.CertificateSigningRequestSpec, subresource string) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{
		ApiVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview",
		Spec: &authorizationv1.SubjectAccessReviewSpec{
			User: spec.GetUsername(), Uid: spec.GetUid(), Groups: spec.GetGroups(), Extra: spec.GetExtra(),
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Group: certificatesv1.Group, Resource: "certificatesigningrequests", Verb: "create", Subresource: subresource,
			},
		},
	}
	out, err := c.review(ctx, sar)
	if err != nil {
		return false, fmt.Errorf("subject access review for %s: %w", subresource, err)
	}
	return out.GetStatus().GetAllowed(), nil
}

// decideServing approves a node's serving request for its own addresses.
func (c *Controller) decideServing(spec *certificatesv1.CertificateSigningRequestSpec, req *x509.CertificateRequest) (string, error) {
	if c.nodes == nil || certificatesv1.ValidateKubeletServing(req, spec.GetUsages()) != nil {
		return "", nil
	}
	user := spec.GetUsername()
	if user != req.Subject.CommonName || !slices.Contains(spec.GetGroups(), certificatesv1.NodesGroup) {
		return "", nil
	}
	nodeName := user[len(certificatesv1.NodeUserPrefix):]
	node, err := c.nodes.Get("", nodeName)
	if apierrors.IsNotFound(err) {
		return "", nil // the Node's add brings the request back
	}
	if err != nil {
		return "", err
	}
	if !ServingSANsAllowed(req, node) {
		return "", nil // a Node update that adds the addresses brings it back
	}
	return ServingMessage, nil
}

// ServingSANsAllowed reports whether every DNS and IP subject alternative
// name of req is one of the node's status.addresses (IP addresses for
// IP SANs; Hostname, InternalDNS and ExternalDNS for DNS SANs).
func ServingSANsAllowed(req *x509.CertificateRequest, node *corev1.Node) bool {
	var ips, names []string
	for _, a := range node.GetStatus().GetAddresses() {
		switch a.GetType() {
		case "InternalIP", "ExternalIP":
			ips = append(ips, a.GetAddress())
		case "Hostname", "InternalDNS", "ExternalDNS":
			names = append(names, a.GetAddress())
		}
	}
	for _, ip := range req.IPAddresses {
		found := false
		for _, a := range ips {
			if p := net.ParseIP(a); p != nil && p.Equal(ip) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	for _, n := range req.DNSNames {
		if !slices.Contains(names, n) {
			return false
		}
	}
	return len(req.IPAddresses)+len(req.DNSNames) > 0
}
