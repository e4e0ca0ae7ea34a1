package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	// doEnc sends one request; a non-empty encoding is sent as
	// Accept-Encoding, which turns off the transport's own gzip.
	doEnc := func(method, path, ct, accept, encoding string, body []byte) ([]byte, error) {
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
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
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
	do := func(method, path, ct, accept string, body []byte) ([]byte, error) {
		return doEnc(method, path, ct, accept, "", body)
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

	// The pages `kubectl get pods` asks for, read whole but not decoded:
	// the server's part of the end-to-end figure below, gzip-compressed
	// (Go's client, and kubectl, accept gzip) and not, alternating.
	fmt.Printf("REST list %d pods as kubectl pages them\n", n)
	var pageLat, pageCPU [2][]time.Duration
	pages := 0
	for i := 0; i < 2*lists; i++ {
		plain := i % 2
		encoding := "" // the transport's gzip
		if plain == 1 {
			encoding = "identity"
		}
		c0, t0 := processCPU(), time.Now()
		cont := ""
		for {
			path := "/api/v1/namespaces/rest/pods?limit=500"
			if cont != "" {
				path += "&continue=" + url.QueryEscape(cont)
			}
			data, err := doEnc(http.MethodGet, path, "", kubectlTableAccept, encoding, nil)
			if err != nil {
				return nil, err
			}
			if cont, err = continueOf(data); err != nil {
				return nil, err
			}
			pages++
			if cont == "" {
				break
			}
		}
		pageLat[plain] = append(pageLat[plain], time.Since(t0))
		pageCPU[plain] = append(pageCPU[plain], processCPU()-c0)
	}
	for plain, what := range []string{"gzip-compressed", "uncompressed"} {
		out = append(out, &result{name: fmt.Sprintf("REST list %d pods, Table in pages of 500 (kubectl's requests), %s", n, what), ops: lists, lat: pageLat[plain], hideThroug: true,
			note: fmt.Sprintf("client-side, %d pages per list, bodies read and not decoded; CPU of the benchmark process (mostly the apiserver) p50 %s per list", pages/(2*lists), ms(pct(pageCPU[plain], .5)))})
	}

	if kubectl := findKubectl(); kubectl != "" {
		// Runs with and without response compression alternate, so both
		// see the same load: the apiserver gzips answers of 128 KiB and
		// more, as Kubernetes does, and kubectl accepts gzip unless
		// --disable-compression.
		fmt.Printf("%s get pods -n rest (%d pods)\n", kubectl, n)
		const runs = 5
		var lat, cpu [2][]time.Duration
		for i := 0; i < 2*runs; i++ {
			plain := i % 2
			args := []string{"--kubeconfig", kubeconfig, "get", "pods", "-n", "rest"}
			if plain == 1 {
				args = append(args, "--disable-compression")
			}
			t0 := time.Now()
			cmd := exec.CommandContext(ctx, kubectl, args...)
			cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("kubectl get pods: %w", err)
			}
			lat[plain] = append(lat[plain], time.Since(t0))
			cpu[plain] = append(cpu[plain], cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		}
		for plain, what := range []string{"gzip-compressed pages", "uncompressed pages (--disable-compression)"} {
			out = append(out, &result{name: fmt.Sprintf("`kubectl get pods` of %d pods, end to end, %s", n, what), ops: runs, lat: lat[plain], hideThroug: true,
				note: fmt.Sprintf("process start, discovery, the Table pages and printing; kubectl's own CPU (user+sys) p50 %s", ms(pct(cpu[plain], .5)))})
		}
	}
	return out, nil
}

// kubectlTableAccept is the Accept header of `kubectl get`.
const kubectlTableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

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

// continueOf reads a list answer's metadata.continue, which comes before
// the items, without decoding the rest.
func continueOf(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // {
		return "", err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return "", err
		}
		if key != "metadata" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return "", err
			}
			continue
		}
		var md struct {
			Continue string `json:"continue"`
		}
		err = dec.Decode(&md)
		return md.Continue, err
	}
	return "", nil
}
