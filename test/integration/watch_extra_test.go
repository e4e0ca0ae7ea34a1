package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// TestBookmarks: a quiet watch that allows bookmarks sees its
// resourceVersion advance while other kinds change.
func TestBookmarks(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	ctx := ctxT(t)
	pods := client.For[*corev1.Pod](c)
	l, err := pods.List(ctx, "default", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := pods.Watch(ctx, "default", client.ListOptions{ResourceVersion: l.ResourceVersion, AllowBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cm, err := client.For[*corev1.ConfigMap](c).Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "elsewhere", Namespace: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Err != nil {
				t.Fatal(ev.Err)
			}
			if ev.Type != client.Bookmark {
				t.Fatalf("unexpected %s event", ev.Type)
			}
			var got, want int64
			fmt.Sscan(ev.Object.Metadata.ResourceVersion, &got)
			fmt.Sscan(cm.Metadata.ResourceVersion, &want)
			if got >= want {
				return
			}
		case <-timeout:
			t.Fatal("no bookmark reached the configmap's revision")
		}
	}
}

// TestPagination: limit and continue walk a list in pages.
func TestPagination(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	cms := client.For[*corev1.ConfigMap](s.Client(t))
	ctx := ctxT(t)
	for i := 0; i < 7; i++ {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("page-%d", i), Namespace: "default"}}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	cont := ""
	pages := 0
	for {
		l, err := cms.List(ctx, "default", client.ListOptions{Limit: 3, Continue: cont})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, cm := range l.Items {
			names = append(names, cm.Metadata.Name)
		}
		if cont = l.Continue; cont == "" {
			break
		}
	}
	if pages != 3 || strings.Join(names, ",") != "page-0,page-1,page-2,page-3,page-4,page-5,page-6" {
		t.Fatalf("%d pages: %v", pages, names)
	}
}

// TestHealthAndMetrics: the HTTP port answers health checks and exposes
// request metrics by verb and resource.
func TestHealthAndMetrics(t *testing.T) {
	port := freePort(t)
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{HTTPPort: port})
	if _, err := client.For[*corev1.Pod](s.Client(t)).Create(ctxT(t), pod("metered", nil)); err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	for _, p := range []string{"/healthz", "/readyz", "/livez"} {
		if got := get(p); got != "ok" {
			t.Errorf("%s = %q", p, got)
		}
	}
	m := get("/metrics")
	for _, want := range []string{
		`apiserver_request_total{code="OK",resource="pods",verb="create"} 1`,
		`apiserver_request_duration_seconds_count{resource="pods",verb="create"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
