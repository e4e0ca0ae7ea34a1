package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/app"
	"minik8s/apiserver/auth/serviceaccount"
	"minik8s/hack/benchpki"
)

// authnBench compares pod creates over TLS through one apiserver
// (AlwaysAllow, no admission plugins, so only the credential differs) by
// three kinds of client: anonymous (--anonymous-auth; TLS with no
// credential, the cheapest authentication there is - the baseline), a
// client certificate (verified in the TLS handshake, then read per
// request), and a static bearer token (--token-auth-file). Rounds
// alternate between them so drift in the machine's load hits all alike.
// It ends with the cost of verifying one bound service-account token
// (signature, claims and the two lookups of the bound objects, from
// memory), the check the apiserver makes per request of a pod.
func authnBench(ctx context.Context, etcdServers string, bp *benchpki.PKI, n, conc int) ([]*result, error) {
	dir, err := os.MkdirTemp("", "mk8s-bench-authn-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	const token = "bench-static-token-0123456789abcdef"
	tokenFile := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+",bench-token-user,uid-bench-token\n"), 0o600); err != nil {
		return nil, err
	}
	fmt.Println("authentication: starting an apiserver with anonymous, client-certificate and static-token authentication")
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready, done := make(chan string, 1), make(chan error, 1)
	o := bp.Secure(app.Options{EtcdServers: etcdServers, BindAddress: "127.0.0.1", ServiceClusterIPRange: "10.96.0.0/16", GCPercent: 400,
		AuthorizationMode: "AlwaysAllow", DisableAdmissionPlugins: strings.Join(app.DefaultAdmissionPlugins, ","), AnonymousAuth: true,
		Authentication: app.AuthenticationOptions{TokenAuthFile: tokenFile}})
	go func() { done <- app.Run(actx, o, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	defer func() { cancel(); <-done }()

	_, adminTLS, err := bp.Kubeconfig(addr)
	if err != nil {
		return nil, err
	}
	caOnly := adminTLS.Clone()
	caOnly.Certificates, caOnly.GetClientCertificate = nil, nil
	certTLS, err := bp.UserTLS("bench-cert-user")
	if err != nil {
		return nil, err
	}
	admin, err := client.New([]string{addr}, client.WithTLS(adminTLS))
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if _, err := client.For[*corev1.Namespace](admin).Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "authn-bench"}}); err != nil {
		return nil, err
	}

	sides := []struct {
		name string
		opts []client.Option
	}{
		{"pod create over TLS, anonymous (baseline: no credential to check)", []client.Option{client.WithTLS(caOnly)}},
		{"pod create over TLS, client certificate", []client.Option{client.WithTLS(certTLS)}},
		{"pod create over TLS, static token (--token-auth-file)", []client.Option{client.WithTLS(caOnly), client.WithBearerToken(token, "")}},
	}
	clients := make([][]*client.Client, len(sides))
	for i, s := range sides {
		for j := 0; j < conc; j++ {
			c, err := client.New([]string{addr}, s.opts...)
			if err != nil {
				return nil, err
			}
			defer c.Close()
			// Warm the connection (and the TLS session) and the create
			// path (the field manager's schema is parsed on first use).
			if _, err := client.For[*corev1.Pod](c).Create(ctx, benchPod("authn-bench", fmt.Sprintf("warm-%d-%d", i, j))); err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			clients[i] = append(clients[i], c)
		}
	}

	rounds := 2 * len(sides)
	per := max(n/rounds, 1)
	results := make([]*result, len(sides))
	for i, s := range sides {
		results[i] = &result{name: s.name}
	}
	// CPU time of this process (apiserver and clients) per side: unlike
	// latency it barely moves with what else the machine runs.
	cpu := make([]time.Duration, len(sides))
	for r := 0; r < rounds; r++ {
		for _, i := range rotated(r, len(sides)) {
			fmt.Printf("authentication: round %d of %d, %s x%d\n", r+1, rounds, sides[i].name, per)
			cpu0 := processCPU()
			el, lat, err := run(per, conc, func(j int) error {
				_, err := client.For[*corev1.Pod](clients[i][j%conc]).Create(ctx, benchPod("authn-bench", fmt.Sprintf("a%d-%d-%d", i, r, j)))
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", sides[i].name, err)
			}
			cpu[i] += processCPU() - cpu0
			results[i].ops += per
			results[i].elapsed += el
			results[i].lat = append(results[i].lat, lat...)
		}
	}
	base := results[0]
	perOp := func(i int) float64 { return float64(cpu[i].Microseconds()) / float64(results[i].ops) }
	results[0].note = fmt.Sprintf("CPU %.0f us a create (apiserver and client, one process)", perOp(0))
	for i, r := range results[1:] {
		r.note = fmt.Sprintf("p50 %+.1f%%, throughput %+.1f%%, CPU a create %+.1f%% vs anonymous (target: < 10%% added latency)",
			100*(float64(pct(r.lat, .5))/float64(pct(base.lat, .5))-1), 100*(r.throughput()/base.throughput()-1),
			100*(perOp(i+1)/perOp(0)-1))
	}

	for _, alg := range []string{"RS256", "ES256"} {
		v, err := verifyBench(ctx, alg, 2000)
		if err != nil {
			return nil, err
		}
		results = append(results, v)
	}
	return results, nil
}

// verifyBench times n verifications of one bound service-account token.
func verifyBench(ctx context.Context, alg string, n int) (*result, error) {
	var key crypto.Signer
	var err error
	if alg == "RS256" {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	signer, err := serviceaccount.NewSigner(key)
	if err != nil {
		return nil, err
	}
	pub, err := serviceaccount.NewPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	sa := &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder", Namespace: "default", Uid: "sa-uid"}}
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web-1", Namespace: "default", Uid: "pod-uid"}}
	iss := &serviceaccount.Issuer{Signer: signer, Issuer: serviceaccount.DefaultIssuer}
	tok, _, err := iss.Issue(serviceaccount.Binding{ServiceAccount: sa, Pod: pod}, nil, time.Hour)
	if err != nil {
		return nil, err
	}
	a := &serviceaccount.Authenticator{Issuers: []string{serviceaccount.DefaultIssuer}, Audiences: []string{serviceaccount.DefaultIssuer},
		Keys: []serviceaccount.PublicKey{pub}, Getter: objects{"serviceaccounts/default/builder": sa, "pods/default/web-1": pod}}
	fmt.Printf("authentication: service-account token verification (%s) x%d\n", alg, n)
	el, lat, err := run(n, 1, func(int) error {
		_, ok, err := a.AuthenticateToken(ctx, tok)
		if err == nil && !ok {
			err = fmt.Errorf("token refused")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &result{name: "service-account token verification, " + alg, ops: n, elapsed: el, lat: lat,
		note: "one goroutine; signature, claims, bound pod and account read from memory (go test -bench Verify ./apiserver/auth/serviceaccount)"}, nil
}

// objects is a serviceaccount.Getter over a map, so verifyBench times the
// token checks rather than storage.
type objects map[string]scheme.Object

func (m objects) Get(_ context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error) {
	return m[k.Resource+"/"+ns+"/"+name], nil
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
