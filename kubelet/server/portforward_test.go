package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	kubeletapi "minik8s/api/kubelet"
	metav1 "minik8s/api/meta/v1"
)

// podStatusPods reports a status with a pod IP for every pod.
type podStatusPods struct {
	fakePods
	ip string
}

func (p podStatusPods) Status(string) (*corev1.PodStatus, bool) {
	return &corev1.PodStatus{PodIP: p.ip}, true
}

func TestPortForward(t *testing.T) {
	// An echo server on loopback stands for the pod's port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	echoPort := int32(ln.Addr().(*net.TCPAddr).Port)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := int32(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()

	stub := New(Config{NodeName: "n1", PodIP: func(ns, name string) (string, error) {
		if ns == "default" && name == "web" {
			return "127.0.0.1", nil
		}
		return "", fmt.Errorf("pod %s/%s not found on this node", ns, name)
	}}, &fakeRT{}, fakePods{})
	// The default lookup: the pod manager's status carries the IP.
	pods := podStatusPods{fakePods: fakePods{pods: []*corev1.Pod{{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: "u1"}}}}, ip: "127.0.0.1"}
	byStatus := New(Config{NodeName: "n1"}, &fakeRT{}, pods)

	for _, s := range []struct {
		name string
		srv  *Server
	}{{"stub lookup", stub}, {"pod status", byStatus}} {
		srv := httptest.NewServer(s.srv.Handler())
		defer srv.Close()
		t.Run(s.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := kubeletapi.PortForward(ctx, srv.URL, "default", "web", echoPort, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			msg := strings.Repeat("ping ", 100000)
			go func() {
				_, _ = io.WriteString(conn, msg)
				_ = conn.(interface{ CloseWrite() error }).CloseWrite()
			}()
			b, err := io.ReadAll(conn)
			if err != nil || string(b) != msg {
				t.Fatalf("echo: %d bytes, %v; want %d bytes", len(b), err, len(msg))
			}
		})
	}

	srv := httptest.NewServer(stub.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		name     string
		pod      string
		port     int32
		wantCode int
	}{
		{"unknown pod", "nope", echoPort, http.StatusNotFound},
		{"closed port", "web", closedPort, http.StatusBadGateway},
		{"bad port", "web", 0, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kubeletapi.PortForward(context.Background(), srv.URL, "default", tc.pod, tc.port, nil)
			var se *kubeletapi.StatusError
			if !errors.As(err, &se) || se.Code != tc.wantCode {
				t.Fatalf("err = %v, want status %d", err, tc.wantCode)
			}
		})
	}

	t.Run("no upgrade", func(t *testing.T) {
		resp, err := http.Post(srv.URL+fmt.Sprintf("/portForward/default/web?port=%d", echoPort), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Errorf("status %d, want 426", resp.StatusCode)
		}
	})
}
