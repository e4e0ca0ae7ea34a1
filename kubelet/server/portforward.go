package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	kubeletapi "minik8s/api/kubelet"
)

// portForwardDialTimeout bounds the connect to a pod's port.
const portForwardDialTimeout = 10 * time.Second

// handlePortForward connects to a port of a pod and, on success, turns
// the request's connection into that TCP stream (101 Switching Protocols
// with Upgrade: kubeletapi.PortForwardProtocol). The dial comes first so a
// refused port is an ordinary HTTP error the caller can report.
func (s *Server) handlePortForward(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("pod")
	port, err := strconv.ParseUint(r.URL.Query().Get("port"), 10, 16)
	if err != nil || port == 0 {
		http.Error(w, fmt.Sprintf("invalid port %q", r.URL.Query().Get("port")), http.StatusBadRequest)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), kubeletapi.PortForwardProtocol) {
		http.Error(w, "port forwarding needs Upgrade: "+kubeletapi.PortForwardProtocol, http.StatusUpgradeRequired)
		return
	}
	ip, err := s.podIP(ns, name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	dial := s.cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	ctx, cancel := context.WithTimeout(r.Context(), portForwardDialTimeout)
	target, err := dial(ctx, "tcp", net.JoinHostPort(ip, strconv.FormatUint(port, 10)))
	cancel()
	if err != nil {
		http.Error(w, fmt.Sprintf("pod %s/%s port %d: %v", ns, name, port, err), http.StatusBadGateway)
		return
	}
	defer target.Close()
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot upgrade this connection", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + kubeletapi.PortForwardProtocol + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		return
	}
	splice(conn, brw.Reader, target)
}

// podIP finds the IP to dial for a pod this kubelet runs.
func (s *Server) podIP(ns, name string) (string, error) {
	if s.cfg.PodIP != nil {
		return s.cfg.PodIP(ns, name)
	}
	pod, err := s.findPod(ns, name)
	if err != nil {
		return "", err
	}
	ip := pod.GetStatus().GetPodIP()
	if st, ok := s.pods.Status(pod.GetMetadata().GetUid()); ok && st.GetPodIP() != "" {
		ip = st.GetPodIP()
	}
	if ip == "" {
		return "", fmt.Errorf("pod %s/%s has no IP yet", ns, name)
	}
	return ip, nil
}

// splice copies both ways between the client (whose first bytes may sit
// in in) and the target, passing each side's end of input on as a
// half-close, and returns when both directions are done.
func splice(conn net.Conn, in io.Reader, target net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(target, in)
		closeWrite(target)
	}()
	_, _ = io.Copy(conn, target)
	closeWrite(conn)
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
