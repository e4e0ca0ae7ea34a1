package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"

	"minik8s/api/codec"
)

// restBench measures the same apiserver over its REST front: pod creates
// over HTTP/1.1 keep-alive connections (one per client, as client-go
// keeps them), lists of the n pods as JSON and as the Table kubectl asks
// for, and `kubectl get pods` end to end when a kubectl is at hand.
func restBench(ctx context.Context, addr string, n, conc int, tlsCfg *tls.Config, kubeconfig string) ([]*result, error) {
	base := "https://" + addr
	hc := &http.Client{Transport: &http.Transport{
		TLSClientConfig:     tlsCfg,
		MaxIdleConnsPerHost: conc,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
	do := func(method, path, ct, accept string, body []byte) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
		}
		return data, nil
	}
	if _, err := do(http.MethodPost, "/api/v1/namespaces", "application/json", "", []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"rest"}}`)); err != nil {
		return nil, err
	}
	var out []*result
	fmt.Printf("REST pod create x%d (%d concurrent clients)\n", n, conc)
	el, lat, err := run(n, conc, func(i int) error {
		body, err := codec.MarshalJSON(benchPod("rest", "bench-"+strconv.Itoa(i)))
		if err != nil {
			return err
		}
		_, err = do(http.MethodPost, "/api/v1/namespaces/rest/pods", "application/json", "application/json", body)
		return err
	})
	if err != nil {
		return nil, err
	}
	out = append(out, &result{name: "REST pod create (HTTP/1.1 JSON)", ops: n, elapsed: el, lat: lat})

	const lists = 10
	listBench := func(name, accept string) (*result, error) {
		var lat []time.Duration
		for i := 0; i < lists; i++ {
			t0 := time.Now()
			if _, err := do(http.MethodGet, "/api/v1/namespaces/rest/pods?resourceVersion=0", "", accept, nil); err != nil {
				return nil, err
			}
			lat = append(lat, time.Since(t0))
		}
		return &result{name: name, ops: lists, lat: lat, hideThroug: true, note: "client-side, reading the whole body"}, nil
	}
	fmt.Printf("REST list %d pods (JSON, Table)\n", n)
	r, err := listBench(fmt.Sprintf("REST list %d pods, JSON, resourceVersion=0", n), "application/json")
	if err != nil {
		return nil, err
	}
	out = append(out, r)
	if r, err = listBench(fmt.Sprintf("REST list %d pods, Table (kubectl get)", n), "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"); err != nil {
		return nil, err
	}
	out = append(out, r)

	if kubectl := findKubectl(); kubectl != "" {
		fmt.Printf("%s get pods -n rest (%d pods)\n", kubectl, n)
		var lat []time.Duration
		for i := 0; i < 5; i++ {
			t0 := time.Now()
			cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "get", "pods", "-n", "rest")
			cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("kubectl get pods: %w", err)
			}
			lat = append(lat, time.Since(t0))
		}
		out = append(out, &result{name: fmt.Sprintf("`kubectl get pods` of %d pods, end to end", n), ops: 5, lat: lat, hideThroug: true,
			note: "process start, discovery, the Table list and printing"})
	}
	return out, nil
}

// findKubectl prefers the pinned bin/kubectl, then one on PATH.
func findKubectl() string {
	if _, err := os.Stat("bin/kubectl"); err == nil {
		return "bin/kubectl"
	}
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p
	}
	return ""
}
