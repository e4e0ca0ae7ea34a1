package config

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kubelet/static"
)

// sink records the calls as "update uid", "remove uid", "kick uid", "ready".
type sink struct {
	mu    sync.Mutex
	calls []string
}

func (s *sink) add(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}
func (s *sink) UpdatePod(p *corev1.Pod) { s.add("update " + p.GetMetadata().GetUid()) }
func (s *sink) RemovePod(uid string)    { s.add("remove " + uid) }
func (s *sink) Kick(uid string)         { s.add("kick " + uid) }
func (s *sink) SetSourcesReady()        { s.add("ready") }

func (s *sink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.calls
	s.calls = nil
	return out
}

func pod(uid string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Uid: uid, Name: uid, Namespace: "default", Annotations: annotations}}
}

func TestMerge(t *testing.T) {
	mirrorHash := "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name    string
		sources []string
		steps   func(c *Config)
		want    []string
		mirrors int
	}{
		{name: "no sources: ready at once", want: []string{"ready"}},
		{name: "api pods, then synced", sources: []string{SourceAPI},
			steps: func(c *Config) {
				c.APIUpdate(pod("a", nil))
				c.APIDelete(pod("a", nil))
				c.Delivered(SourceAPI)
			},
			want: []string{"update a", "remove a", "ready"}},
		{name: "a mirror pod is not run; its static pod is kicked", sources: []string{SourceAPI},
			steps: func(c *Config) {
				m := pod("m", map[string]string{static.AnnotationMirror: mirrorHash})
				c.APIUpdate(m)
				c.APIDelete(m)
			},
			want: []string{"kick 01234567-89ab-cdef-0123-456789abcdef"}, mirrors: 2},
		{name: "ready waits for both sources", sources: []string{SourceAPI, SourceFile},
			steps: func(c *Config) {
				c.SetStatic([]*corev1.Pod{pod("s1", nil), pod("s2", nil)})
				c.SetStatic([]*corev1.Pod{pod("s2", nil)})
				c.Delivered(SourceAPI)
				c.Delivered(SourceAPI)
			},
			want: []string{"update s1", "update s2", "update s2", "remove s1", "ready"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			mirrors := 0
			c := New(s, Options{Sources: tc.sources, MirrorChanged: func() { mirrors++ }})
			if tc.steps != nil {
				tc.steps(c)
			}
			if got := s.take(); !slices.Equal(got, tc.want) {
				t.Errorf("sink got %q, want %q", got, tc.want)
			}
			if mirrors != tc.mirrors {
				t.Errorf("%d mirror changes, want %d", mirrors, tc.mirrors)
			}
			if !c.Ready() && slices.Contains(tc.want, "ready") {
				t.Error("Ready() false after the sink was told")
			}
		})
	}
}

// TestWatchFiles: the manifest directory's pods reach the sink, are
// published to StaticChanged, and make the file source ready.
func TestWatchFiles(t *testing.T) {
	dir := t.TempDir()
	manifest := `apiVersion: v1
kind: Pod
metadata: {name: etcd, namespace: kube-system}
spec:
  containers: [{name: etcd, image: etcd:3.5}]
`
	if err := os.WriteFile(filepath.Join(dir, "etcd.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	published := make(chan []*corev1.Pod, 1)
	c := New(s, Options{Sources: []string{SourceFile}, StaticChanged: func(p []*corev1.Pod) { published <- p }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.WatchFiles(ctx, dir, "node1", time.Hour, slog.New(slog.DiscardHandler))
		close(done)
	}()
	var pods []*corev1.Pod
	select {
	case pods = <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("no static pods published")
	}
	cancel()
	<-done
	if len(pods) != 1 || pods[0].GetMetadata().GetName() != "etcd-node1" {
		t.Fatalf("static pods %v", pods)
	}
	want := fmt.Sprintf("update %s,ready", pods[0].GetMetadata().GetUid())
	if got := strings.Join(s.take(), ","); got != want {
		t.Errorf("sink got %q, want %q", got, want)
	}
}
