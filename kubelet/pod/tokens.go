package pod

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	authenticationv1 "minik8s/api/authentication/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/workqueue"
)

// TokenRequester is what projecting service-account tokens needs from the
// apiserver (the serviceaccounts/token subresource). An API that also
// implements it gives pods real tokens bound to them; with any other API
// the projected token is a placeholder naming the service account.
type TokenRequester interface {
	RequestToken(ctx context.Context, namespace, serviceAccount string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)
}

// defaultTokenSeconds is a projection's lifetime when it names none.
const defaultTokenSeconds = 3600

// tokenKey is one projected token: the same pod asking for the same
// service account, audience and lifetime shares it.
type tokenKey struct {
	podUID, serviceAccount, audience string
	seconds                          int64
}

type tokenEntry struct {
	token     string
	refreshAt time.Time // 80% of the lifetime, as Kubernetes' kubelet
	expires   time.Time
}

// tokenCache requests each pod's tokens and renews them once 80% of their
// lifetime has passed; until then every sync of the pod reuses them.
type tokenCache struct {
	api   TokenRequester
	clock workqueue.Clock
	mu    sync.Mutex
	m     map[tokenKey]tokenEntry
}

func newTokenCache(api TokenRequester, clock workqueue.Clock) *tokenCache {
	return &tokenCache{api: api, clock: clock, m: map[tokenKey]tokenEntry{}}
}

// token returns the pod's token for projection p of service account sa.
// A failed renewal keeps the old token while it is still valid.
func (c *tokenCache) token(ctx context.Context, pod *corev1.Pod, sa string, p *corev1.ServiceAccountTokenProjection) (string, error) {
	secs := p.GetExpirationSeconds()
	if p.ExpirationSeconds == nil {
		secs = defaultTokenSeconds
	}
	md := pod.GetMetadata()
	key := tokenKey{podUID: md.GetUid(), serviceAccount: sa, audience: p.GetAudience(), seconds: secs}
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.refreshAt) {
		return e.token, nil
	}
	req := &authenticationv1.TokenRequest{ApiVersion: "authentication.k8s.io/v1", Kind: "TokenRequest",
		Spec: &authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs,
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", ApiVersion: "v1", Name: md.GetName(), Uid: md.GetUid()}}}
	if a := p.GetAudience(); a != "" {
		req.Spec.Audiences = []string{a}
	}
	out, err := c.api.RequestToken(ctx, md.GetNamespace(), sa, req)
	if err == nil && out.GetStatus().GetToken() == "" {
		err = fmt.Errorf("the apiserver answered without a token")
	}
	if err != nil {
		if ok && now.Before(e.expires) {
			return e.token, nil // retried at the next sync
		}
		return "", fmt.Errorf("request token of service account %s/%s: %w", md.GetNamespace(), sa, err)
	}
	exp := out.GetStatus().GetExpirationTimestamp().AsTime()
	lifetime := time.Duration(out.GetSpec().GetExpirationSeconds()) * time.Second
	if lifetime <= 0 || lifetime > exp.Sub(now) {
		lifetime = exp.Sub(now)
	}
	e = tokenEntry{token: out.Status.Token, expires: exp, refreshAt: exp.Add(-lifetime / 5)}
	c.mu.Lock()
	c.m[key] = e
	c.mu.Unlock()
	return e.token, nil
}

// forget drops a removed pod's tokens.
func (c *tokenCache) forget(podUID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if k.podUID == podUID {
			delete(c.m, k)
		}
	}
}

// serviceAccountName is the pod's service account ("default" when unset).
func serviceAccountName(pod *corev1.Pod) string {
	if sa := pod.GetSpec().GetServiceAccountName(); sa != "" {
		return sa
	}
	return "default"
}

// projectedToken is the content of a serviceAccountToken projection: a
// bound token when the kubelet can request one, else a placeholder.
func projectedToken(ec envContext, p *corev1.ServiceAccountTokenProjection) ([]byte, error) {
	sa := serviceAccountName(ec.pod)
	if ec.tokens == nil {
		return []byte(fmt.Sprintf("minik8s:serviceaccount:%s:%s", ec.pod.GetMetadata().GetNamespace(), sa)), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := ec.tokens.token(ctx, ec.pod, sa, p)
	return []byte(tok), err
}

// refreshTokens rewrites the token files of a running pod's projected
// volumes whose token was renewed; called on every sync, so a token is
// replaced within one resync period of reaching 80% of its lifetime.
func refreshTokens(pod *corev1.Pod, dirs podDirs, ec envContext) error {
	if ec.tokens == nil {
		return nil
	}
	for _, v := range pod.GetSpec().GetVolumes() {
		if v.GetProjected() == nil {
			continue
		}
		m := mode(v.Projected.DefaultMode, 0o644)
		dir := dirs.volume("projected", v.GetName())
		for _, src := range v.Projected.GetSources() {
			p := src.GetServiceAccountToken()
			if p == nil {
				continue
			}
			tok, err := projectedToken(ec, p)
			if err != nil {
				return fmt.Errorf("volume %q: %w", v.GetName(), err)
			}
			file := filepath.Join(dir, tokenPath(p))
			if cur, err := os.ReadFile(file); err == nil && string(cur) == string(tok) {
				continue
			}
			if err := writeFileAtomic(file, tok, m); err != nil {
				return fmt.Errorf("volume %q: %w", v.GetName(), err)
			}
		}
	}
	return nil
}

func tokenPath(p *corev1.ServiceAccountTokenProjection) string {
	if p.GetPath() == "" {
		return "token"
	}
	return p.GetPath()
}
