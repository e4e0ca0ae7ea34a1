package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	authenticationv1 "minik8s/api/authentication/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kubelet/pod"
	"minik8s/kubelet/static"
)

// apiAdapter is pod.API on the apiserver: pods and services from
// informers, config maps and secrets read on demand.
type apiAdapter struct {
	pods       *client.Resource[*corev1.Pod]
	configMaps *client.Resource[*corev1.ConfigMap]
	secrets    *client.Resource[*corev1.Secret]
	podLister  *informer.Lister[*corev1.Pod]
	services   *informer.Lister[*corev1.Service]
	client     *client.Client
	log        *slog.Logger
}

var (
	_ pod.API            = (*apiAdapter)(nil)
	_ pod.TokenRequester = (*apiAdapter)(nil)
)

// RequestToken asks for a service-account token bound to a pod (the
// projected kube-api-access volume).
func (a *apiAdapter) RequestToken(ctx context.Context, ns, sa string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	return a.client.CreateToken(ctx, ns, sa, req)
}

func (a *apiAdapter) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.configMaps.Get(ctx, ns, name)
}

func (a *apiAdapter) Secret(ns, name string) (*corev1.Secret, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.secrets.Get(ctx, ns, name)
}

func (a *apiAdapter) Services(ns string) []*corev1.Service {
	if a.services == nil {
		return nil
	}
	svcs := a.services.ListNamespace(ns, labels.Everything())
	if ns != "default" {
		// Every pod learns where the API is, as in Kubernetes: the
		// default/kubernetes service's variables are added in every
		// namespace (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT).
		if k, err := a.services.Get("default", "kubernetes"); err == nil {
			svcs = append(svcs, k)
		}
	}
	return svcs
}

// UpdateStatus writes st to the pod (a static pod's goes to its mirror),
// re-reading on conflicts.
func (a *apiAdapter) UpdateStatus(ctx context.Context, p *corev1.Pod, st *corev1.PodStatus) error {
	md := p.GetMetadata()
	wantUID := md.GetUid()
	isStatic := static.IsStatic(p)
	base, err := a.podLister.Get(md.GetNamespace(), md.GetName())
	if err != nil {
		if apierrors.IsNotFound(err) {
			if isStatic {
				return fmt.Errorf("static pod %s/%s has no mirror yet: %w", md.GetNamespace(), md.GetName(), pod.ErrStatusNotWritten)
			}
			return nil // gone
		}
		return err
	}
	return client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		if isStatic {
			if !static.IsMirror(base) {
				return fmt.Errorf("pod %s/%s is not our mirror: %w", md.GetNamespace(), md.GetName(), pod.ErrStatusNotWritten)
			}
		} else if base.GetMetadata().GetUid() != wantUID {
			return nil // a new pod with the same name
		}
		upd := proto.Clone(base).(*corev1.Pod)
		upd.Status = st
		_, err := a.pods.UpdateStatus(ctx, upd)
		if apierrors.IsConflict(err) {
			fresh, gerr := a.pods.Get(ctx, md.GetNamespace(), md.GetName())
			if gerr != nil {
				if apierrors.IsNotFound(gerr) {
					return nil
				}
				return gerr
			}
			base = fresh
		}
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// Delete confirms a graceful deletion: grace 0, guarded by the UID.
func (a *apiAdapter) Delete(ctx context.Context, p *corev1.Pod) error {
	md := p.GetMetadata()
	_, err := a.pods.Delete(ctx, md.GetNamespace(), md.GetName(), &metav1.DeleteOptions{
		GracePeriodSeconds: proto.Int64(0), Preconditions: &metav1.Preconditions{Uid: md.GetUid()},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// mirrors keeps one mirror pod per static pod in the apiserver.
type mirrors struct {
	pods   *client.Resource[*corev1.Pod]
	lister *informer.Lister[*corev1.Pod]
	node   string
	// nodeUID is our Node's uid: a mirror pod is owned by its Node, as
	// NodeRestriction requires (and the Node's deletion collects it).
	nodeUID func() (string, error)
	log     *slog.Logger

	mu     sync.Mutex
	static map[string]*corev1.Pod // by namespace/name
	kick   chan struct{}
}

func newMirrors(pods *client.Resource[*corev1.Pod], lister *informer.Lister[*corev1.Pod], node string, nodeUID func() (string, error), log *slog.Logger) *mirrors {
	return &mirrors{pods: pods, lister: lister, node: node, nodeUID: nodeUID, log: log, static: map[string]*corev1.Pod{}, kick: make(chan struct{}, 1)}
}

func (m *mirrors) setStatic(pods []*corev1.Pod) {
	m.mu.Lock()
	m.static = map[string]*corev1.Pod{}
	for _, p := range pods {
		m.static[p.Metadata.Namespace+"/"+p.Metadata.Name] = p
	}
	m.mu.Unlock()
	m.poke()
}

func (m *mirrors) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// run syncs mirrors on every poke and every 10s (the apiserver may have
// come up, or someone deleted a mirror).
func (m *mirrors) run(ctx context.Context, synced func() bool) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		case <-t.C:
		}
		if !synced() {
			continue
		}
		if err := m.sync(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("mirror pod sync failed", "err", err)
			go func() { time.Sleep(2 * time.Second); m.poke() }()
		}
	}
}

func (m *mirrors) sync(ctx context.Context) error {
	m.mu.Lock()
	want := make(map[string]*corev1.Pod, len(m.static))
	for k, v := range m.static {
		want[k] = v
	}
	m.mu.Unlock()
	for key, sp := range want {
		cur, err := m.lister.Get(sp.Metadata.Namespace, sp.Metadata.Name)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err == nil {
			hash := sp.Metadata.Annotations[static.AnnotationHash]
			if static.IsMirror(cur) && cur.Metadata.Annotations[static.AnnotationMirror] == hash && cur.Metadata.DeletionTimestamp == nil {
				continue
			}
			// A stale mirror, one being deleted, or a pod squatting the
			// name: delete it for good and publish ours.
			if _, err := m.pods.Delete(ctx, cur.Metadata.Namespace, cur.Metadata.Name, &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete stale mirror pod %s: %w", key, err)
			}
		}
		uid, err := m.nodeUID()
		if err != nil {
			return fmt.Errorf("create mirror pod %s: node %s: %w", key, m.node, err)
		}
		if _, err := m.pods.Create(ctx, static.MirrorOf(sp, m.node, uid)); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create mirror pod %s: %w", key, err)
		}
		m.log.Info("mirror pod published", "pod", key)
	}
	for _, p := range m.lister.List(labels.Everything()) {
		if !static.IsMirror(p) || p.GetSpec().GetNodeName() != m.node {
			continue
		}
		if _, ok := want[p.Metadata.Namespace+"/"+p.Metadata.Name]; ok {
			continue
		}
		if _, err := m.pods.Delete(ctx, p.Metadata.Namespace, p.Metadata.Name, &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete orphaned mirror pod %s/%s: %w", p.Metadata.Namespace, p.Metadata.Name, err)
		}
	}
	return nil
}
