package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/apiserver/app"
	"minik8s/hack/benchpki"
)

// authzBench compares pod creates of one user through two apiservers over
// the same etcd: one with --authorization-mode=AlwaysAllow and no
// admission plugins, one as `make up` runs it (Node,RBAC; the default
// plugins and NodeRestriction) with 1000 RoleBindings and 100
// ResourceQuotas in other namespaces. The user is an ordinary one bound
// to "edit" in its namespace (not system:masters, whose decision is the
// first binding tried). Rounds alternate between the two so drift in the
// machine's load hits both alike.
func authzBench(ctx context.Context, etcdServers string, bp *benchpki.PKI, n, conc int) ([]*result, error) {
	start := func(o app.Options) (string, context.CancelFunc, error) {
		actx, cancel := context.WithCancel(ctx)
		ready, done := make(chan string, 1), make(chan error, 1)
		o.EtcdServers, o.BindAddress, o.ServiceClusterIPRange, o.GCPercent = etcdServers, "127.0.0.1", "10.96.0.0/16", 400
		go func() { done <- app.Run(actx, bp.Secure(o), ready) }()
		select {
		case addr := <-ready:
			return addr, cancel, nil
		case err := <-done:
			cancel()
			return "", nil, fmt.Errorf("apiserver: %w", err)
		}
	}
	fmt.Println("authorization: starting an AlwaysAllow apiserver without admission plugins and a Node,RBAC one with the default plugins")
	open, stopOpen, err := start(app.Options{AuthorizationMode: "AlwaysAllow", DisableAdmissionPlugins: strings.Join(app.DefaultAdmissionPlugins, ",")})
	if err != nil {
		return nil, err
	}
	defer stopOpen()
	secure, stopSecure, err := start(app.Options{AuthorizationMode: "Node,RBAC", EnableAdmissionPlugins: "NodeRestriction"})
	if err != nil {
		return nil, err
	}
	defer stopSecure()

	_, adminTLS, err := bp.Kubeconfig(secure)
	if err != nil {
		return nil, err
	}
	admin, err := client.New([]string{secure}, client.WithTLS(adminTLS))
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	mk := func(obj interface{ GetMetadata() *metav1.ObjectMeta }) error {
		var err error
		switch o := obj.(type) {
		case *corev1.Namespace:
			_, err = client.For[*corev1.Namespace](admin).Create(ctx, o)
		case *corev1.ServiceAccount:
			_, err = client.For[*corev1.ServiceAccount](admin).Create(ctx, o)
		case *rbacv1.RoleBinding:
			_, err = client.For[*rbacv1.RoleBinding](admin).Create(ctx, o)
		case *corev1.ResourceQuota:
			_, err = client.For[*corev1.ResourceQuota](admin).Create(ctx, o)
		}
		return err
	}
	const user = "bench-user"
	edit := func(ns, name, who string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:  &rbacv1.RoleRef{ApiGroup: rbacv1.Group, Kind: "ClusterRole", Name: "edit"},
			Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: rbacv1.Group, Name: who}}}
	}
	fmt.Println("authorization: 1000 RoleBindings and 100 ResourceQuotas in 100 namespaces")
	for i := 0; i < 100; i++ {
		ns := "authz-seed-" + strconv.Itoa(i)
		if err := mk(&corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, err
		}
		for j := 0; j < 10; j++ {
			if err := mk(edit(ns, "rb-"+strconv.Itoa(j), fmt.Sprintf("user-%d-%d", i, j))); err != nil {
				return nil, err
			}
		}
		if err := mk(&corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: "q", Namespace: ns},
			Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"pods": "100", "requests.cpu": "10"}}}); err != nil {
			return nil, err
		}
	}
	for _, ns := range []string{"authz-open", "authz-secure"} {
		for _, obj := range []interface{ GetMetadata() *metav1.ObjectMeta }{
			&corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}},
			&corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "default", Namespace: ns}},
			edit(ns, "bench-user-edit", user),
		} {
			if err := mk(obj); err != nil {
				return nil, err
			}
		}
	}
	userTLS, err := bp.UserTLS(user)
	if err != nil {
		return nil, err
	}
	clientsOf := func(addr string) ([]*client.Client, error) {
		cs := make([]*client.Client, conc)
		for i := range cs {
			c, err := client.New([]string{addr}, client.WithTLS(userTLS))
			if err != nil {
				return nil, err
			}
			cs[i] = c
		}
		return cs, nil
	}
	openClients, err := clientsOf(open)
	if err != nil {
		return nil, err
	}
	secureClients, err := clientsOf(secure)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range append(openClients, secureClients...) {
			c.Close()
		}
	}()
	// Warm the connections and wait until the RBAC binding is in effect.
	deadline := time.Now().Add(30 * time.Second)
	for _, cs := range [][]*client.Client{openClients, secureClients} {
		for _, c := range cs {
			for {
				_, err := client.For[*corev1.Pod](c).List(ctx, "authz-secure", client.ListOptions{Limit: 1})
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					return nil, fmt.Errorf("bench-user cannot list pods: %w", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}

	const rounds = 4
	per := n / rounds
	results := []*result{{name: "pod create, AlwaysAllow, no admission plugins (baseline)"}, {name: "pod create, Node,RBAC + default plugins + NodeRestriction"}}
	sides := []struct {
		ns      string
		clients []*client.Client
	}{{"authz-open", openClients}, {"authz-secure", secureClients}}
	for r := 0; r < rounds; r++ {
		for _, i := range rotated(r, len(sides)) {
			side := sides[i]
			fmt.Printf("authorization: round %d of %d, %s x%d\n", r+1, rounds, results[i].name, per)
			el, lat, err := run(per, conc, func(j int) error {
				_, err := client.For[*corev1.Pod](side.clients[j%conc]).Create(ctx, benchPod(side.ns, fmt.Sprintf("r%d-%d", r, j)))
				return err
			})
			if err != nil {
				return nil, err
			}
			results[i].ops += per
			results[i].elapsed += el
			results[i].lat = append(results[i].lat, lat...)
		}
	}
	slower := 100 * (1 - results[1].throughput()/results[0].throughput())
	results[1].note = fmt.Sprintf("%.1f%% slower than the baseline (target < 15%%); 1000 RoleBindings and 100 quotas present", slower)
	return results, nil
}
