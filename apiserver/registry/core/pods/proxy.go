package pods

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	kubelet "minik8s/api/kubelet"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry/generic"
)

// KubeletHTTP is the client for non-streaming kubelet calls; logs with
// follow and exec run as long as the caller's context.
var KubeletHTTP = &http.Client{Transport: &http.Transport{
	ResponseHeaderTimeout: 30 * time.Second,
	MaxIdleConnsPerHost:   4,
}}

// Proxy resolves where a pod's or a node's streams come from: the node
// proxy relays pods/log, pods/exec, pods/portforward, nodes/proxy and the
// stats to the kubelet of the node. Both fronts use it after the request
// path has authorized the subresource.
type Proxy struct {
	Store *generic.Store
	// Kubelet is where and how the apiserver calls kubelets; nil is
	// plain HTTP at the Node's InternalIP.
	Kubelet *KubeletClient
}

// KubeletClient is how the apiserver calls kubelets: where (the Node's
// address and daemon endpoint, KubeletConfig) and as whom over https (its
// client certificate, --kubelet-client-certificate/key, and the CA of the
// kubelets' serving certificates, --kubelet-certificate-authority).
type KubeletClient struct {
	KubeletConfig
	TLS  *tls.Config
	HTTP *http.Client
}

// NewKubeletClient returns the client reaching kubelets as cfg says, over
// https with tc (nil tc: plain HTTP, KubeletHTTP).
func NewKubeletClient(cfg KubeletConfig, tc *tls.Config) *KubeletClient {
	if tc == nil {
		return &KubeletClient{KubeletConfig: cfg, HTTP: KubeletHTTP}
	}
	cfg.Scheme = "https"
	return &KubeletClient{KubeletConfig: cfg, TLS: tc, HTTP: &http.Client{Transport: &http.Transport{
		TLSClientConfig:       tc,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   4,
	}}}
}

// HTTPClient is the client for non-streaming kubelet calls.
func (p *Proxy) HTTPClient() *http.Client {
	if p.Kubelet == nil || p.Kubelet.HTTP == nil {
		return KubeletHTTP
	}
	return p.Kubelet.HTTP
}

// TLS is the client TLS for streams (exec, port-forward); nil when none
// is configured.
func (p *Proxy) TLS() *tls.Config {
	if p.Kubelet == nil {
		return nil
	}
	return p.Kubelet.TLS
}

// KubeletFor returns the kubelet server URL of a node, from the Node's
// status (see KubeletConfig.KubeletURL).
func (p *Proxy) KubeletFor(ctx context.Context, nodeName string) (string, error) {
	nk, _ := scheme.ByResource("nodes")
	obj, err := p.Store.Get(ctx, nk, "", nodeName)
	if err != nil {
		return "", err
	}
	var cfg KubeletConfig
	if p.Kubelet != nil {
		cfg = p.Kubelet.KubeletConfig
	}
	return cfg.KubeletURL(obj.(*corev1.Node))
}

// Target is a pod's container and the kubelet that runs it.
type Target struct {
	Pod       *corev1.Pod
	Node      string
	Kubelet   string // base URL
	Container string
}

// PodNode resolves a pod and the kubelet of its node (Container empty).
func (p *Proxy) PodNode(ctx context.Context, ns, name string) (*Target, error) {
	return p.resolve(ctx, ns, name, func(*corev1.Pod) (string, error) { return "", nil })
}

// PodTarget resolves a pod's container and its kubelet.
func (p *Proxy) PodTarget(ctx context.Context, ns, name, container string) (*Target, error) {
	return p.resolve(ctx, ns, name, func(pod *corev1.Pod) (string, error) { return pickContainer(pod, container) })
}

func (p *Proxy) resolve(ctx context.Context, ns, name string, pick func(*corev1.Pod) (string, error)) (*Target, error) {
	pk, _ := scheme.ByResource("pods")
	obj, err := p.Store.Get(ctx, pk, ns, name)
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	cname, err := pick(pod)
	if err != nil {
		return nil, err
	}
	node := pod.GetSpec().GetNodeName()
	if node == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	base, err := p.KubeletFor(ctx, node)
	if err != nil {
		return nil, err
	}
	return &Target{Pod: pod, Node: node, Kubelet: base, Container: cname}, nil
}

// pickContainer answers as kubectl does: the named container must exist;
// no name is fine only for a pod with one container.
func pickContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.GetSpec().GetInitContainers() {
		names = append(names, c.GetName())
	}
	for _, c := range pod.GetSpec().GetContainers() {
		names = append(names, c.GetName())
	}
	podName := pod.GetMetadata().GetName()
	if name == "" {
		if cs := pod.GetSpec().GetContainers(); len(cs) == 1 {
			return cs[0].GetName(), nil
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", podName, strings.Join(names, " ")))
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, podName))
}

// KubeletError turns a kubelet failure into the API's error vocabulary;
// node names the node whose kubelet failed.
func KubeletError(node string, err error) error {
	var se *kubelet.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusNotFound:
			nf := apierrors.NewNotFound("pods", "")
			nf.Status.Message = se.Message // the kubelet names what it lacks
			return nf
		case http.StatusBadRequest:
			return apierrors.NewBadRequest(se.Message)
		}
		return apierrors.NewInternal(fmt.Errorf("kubelet: %s", se.Message))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return apierrors.NewUnavailable(fmt.Sprintf("cannot reach the kubelet of node %s: %v", node, err))
}
