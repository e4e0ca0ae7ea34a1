package pod

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	authenticationv1 "minik8s/api/authentication/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/workqueue"
)

// fakeTokens issues "tok-N" tokens for the requested lifetime.
type fakeTokens struct {
	clock *workqueue.FakeClock
	reqs  []*authenticationv1.TokenRequest
	sa    []string
	fail  bool
}

func (f *fakeTokens) RequestToken(_ context.Context, ns, sa string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	if f.fail {
		return nil, errors.New("apiserver down")
	}
	f.reqs = append(f.reqs, req)
	f.sa = append(f.sa, ns+"/"+sa)
	secs := req.GetSpec().GetExpirationSeconds()
	return &authenticationv1.TokenRequest{Spec: req.Spec, Status: &authenticationv1.TokenRequestStatus{
		Token:               "tok-" + string(rune('0'+len(f.reqs))),
		ExpirationTimestamp: timestamppb.New(f.clock.Now().Add(time.Duration(secs) * time.Second)),
	}}, nil
}

func tokenPod() *corev1.Pod {
	exp := int64(1000)
	mode := int32(0o600)
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "ns", Uid: "uid-1"},
		Spec: &corev1.PodSpec{ServiceAccountName: "builder", Volumes: []*corev1.Volume{{Name: "kube-api-access-abcde",
			Projected: &corev1.ProjectedVolumeSource{DefaultMode: &mode, Sources: []*corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: &exp, Path: "token"}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []*corev1.DownwardAPIVolumeFile{
					{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}}}}}
}

func TestTokenProjectionAndRefresh(t *testing.T) {
	clock := workqueue.NewFakeClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	api := &fakeTokens{clock: clock}
	cache := newTokenCache(api, clock)
	pod := tokenPod()
	dirs := podDirs{root: t.TempDir()}
	ec := envContext{pod: pod, tokens: cache}
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dirs.volume("projected", "kube-api-access-abcde"), "token"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	if _, err := prepareVolumes(pod, dirs, ec); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "tok-1" {
		t.Fatalf("token %q", got)
	}
	ref := api.reqs[0].GetSpec().GetBoundObjectRef()
	if api.sa[0] != "ns/builder" || ref.GetKind() != "Pod" || ref.GetName() != "web" || ref.GetUid() != "uid-1" ||
		api.reqs[0].GetSpec().GetExpirationSeconds() != 1000 {
		t.Fatalf("request %v for %v", api.reqs[0], api.sa)
	}
	info, _ := os.Stat(filepath.Join(dirs.volume("projected", "kube-api-access-abcde"), "token"))
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode())
	}

	// Before 80% of the lifetime: the same token, no request.
	clock.Step(799 * time.Second)
	if err := refreshTokens(pod, dirs, ec); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "tok-1" || len(api.reqs) != 1 {
		t.Fatalf("at 79.9%%: %q after %d requests", got, len(api.reqs))
	}
	// At 80%: renewed and rewritten.
	clock.Step(time.Second)
	if err := refreshTokens(pod, dirs, ec); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "tok-2" || len(api.reqs) != 2 {
		t.Fatalf("at 80%%: %q after %d requests", got, len(api.reqs))
	}
	// A failed renewal keeps the valid token; an expired one is an error.
	api.fail = true
	clock.Step(900 * time.Second)
	if err := refreshTokens(pod, dirs, ec); err != nil || read() != "tok-2" {
		t.Fatalf("renewal failed while valid: %v %q", err, read())
	}
	clock.Step(200 * time.Second)
	if err := refreshTokens(pod, dirs, ec); err == nil {
		t.Fatal("expired token and no renewal: no error")
	}

	cache.forget("uid-1")
	if len(cache.m) != 0 {
		t.Fatalf("forget left %v", cache.m)
	}
}

func TestPlaceholderWithoutRequester(t *testing.T) {
	pod := tokenPod()
	dirs := podDirs{root: t.TempDir()}
	if _, err := prepareVolumes(pod, dirs, envContext{pod: pod}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dirs.volume("projected", "kube-api-access-abcde"), "token"))
	if string(b) != "minik8s:serviceaccount:ns:builder" {
		t.Fatalf("token %q", b)
	}
	if err := refreshTokens(pod, dirs, envContext{pod: pod}); err != nil {
		t.Fatal(err)
	}
}
