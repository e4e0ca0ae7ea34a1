// Package componentstatus computes `get componentstatuses` live, as
// Kubernetes does: nothing is stored; each read probes the scheduler and
// controller-manager health endpoints and every etcd member.
package componentstatus

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
)

// Prober checks the control-plane components.
type Prober struct {
	// Etcd is a client whose endpoints are the etcd members, probed one by one.
	Etcd *clientv3.Client
	// HTTP maps a component name to its health URL(s); with several URLs
	// (active-standby replicas) the component is Healthy when any answers.
	HTTP map[string][]string
	// Timeout bounds each probe.
	Timeout time.Duration
	Client  *http.Client
}

// ParseHTTP parses "name=url[;url],name=url" as the --component-health flag takes it.
func ParseHTTP(spec string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, part := range strings.Split(spec, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, urls, ok := strings.Cut(part, "=")
		if !ok || name == "" || urls == "" {
			return nil, fmt.Errorf("component health %q: want name=url[;url]", part)
		}
		out[name] = strings.Split(urls, ";")
	}
	return out, nil
}

// List probes every component and returns their statuses sorted by name.
func (p *Prober) List(ctx context.Context) []*corev1.ComponentStatus {
	var mu sync.Mutex
	var out []*corev1.ComponentStatus
	var wg sync.WaitGroup
	add := func(name string, err error, msg string) {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, status(name, err, msg))
	}
	for name, urls := range p.HTTP {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, err := p.probeHTTP(ctx, urls)
			add(name, err, msg)
		}()
	}
	if p.Etcd != nil {
		for i, ep := range p.Etcd.Endpoints() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				add(fmt.Sprintf("etcd-%d", i), p.probeEtcd(ctx, ep), `{"health":"true"}`)
			}()
		}
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Metadata.Name < out[j].Metadata.Name })
	return out
}

// Get probes one component.
func (p *Prober) Get(ctx context.Context, name string) (*corev1.ComponentStatus, error) {
	for _, cs := range p.List(ctx) {
		if cs.Metadata.Name == name {
			return cs, nil
		}
	}
	return nil, apierrors.NewNotFound("componentstatuses", name)
}

func status(name string, err error, msg string) *corev1.ComponentStatus {
	cond := &corev1.ComponentCondition{Type: "Healthy", Status: corev1.ConditionTrue, Message: msg}
	if err != nil {
		cond = &corev1.ComponentCondition{Type: "Healthy", Status: corev1.ConditionFalse, Error: err.Error()}
	}
	return &corev1.ComponentStatus{
		ApiVersion: "v1", Kind: "ComponentStatus",
		Metadata:   &metav1.ObjectMeta{Name: name},
		Conditions: []*corev1.ComponentCondition{cond},
	}
}

func (p *Prober) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return 2 * time.Second
}

func (p *Prober) probeHTTP(ctx context.Context, urls []string) (string, error) {
	hc := p.Client
	if hc == nil {
		hc = &http.Client{Timeout: p.timeout()}
	}
	var lastErr error
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", err
		}
		resp, err := hc.Do(req)
		if err != nil {
			lastErr = err // a *url.Error, which names the method and URL
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return strings.TrimSpace(string(body)), nil
		}
		lastErr = fmt.Errorf("Get %q: status %d: %s", u, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return "", lastErr
}

func (p *Prober) probeEtcd(ctx context.Context, endpoint string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	if _, err := p.Etcd.Status(ctx, endpoint); err != nil {
		return fmt.Errorf("etcd %s: %v", endpoint, err)
	}
	return nil
}
