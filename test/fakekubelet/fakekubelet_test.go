package fakekubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	_ "minik8s/api/all"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/test/apiservertest"
)

func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestModes: the simulated nodes (Simulated) and the real kubelets on fakes
// behave alike for what the benchmarks and integration tests use: nodes
// become Ready, pending pods are bound round-robin and run, pods that do
// not restart finish as Outcome says, deletions complete, and the stats
// summary reports SetPodUsage's numbers.
func TestModes(t *testing.T) {
	api := apiservertest.StartWithEtcd(t)
	addr, c := api.Addr, api.Client(t)
	for _, real := range []bool{false, true} {
		t.Run(fmt.Sprintf("real=%v", real), func(t *testing.T) {
			ctx := context.Background()
			ns := fmt.Sprintf("real-%v", real)
			if _, err := client.For[*corev1.Namespace](c).Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}}); err != nil {
				t.Fatal(err)
			}
			k := Start(ctx, Config{Client: c, Bind: true, Heartbeat: 300 * time.Millisecond, ServeStats: true, Simulated: !real, Server: addr, Kubeconfig: api.Kubeconfig})
			defer k.Stop()
			nodes := []string{ns + "-a", ns + "-b"}
			for _, n := range nodes {
				if err := k.AddNode(ctx, n, map[string]string{"set": ns}); err != nil {
					t.Fatal(err)
				}
			}
			pods := client.For[*corev1.Pod](c)
			mk := func(name, policy string) {
				t.Helper()
				_, err := pods.Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns},
					Spec: &corev1.PodSpec{RestartPolicy: policy, NodeSelector: map[string]string{"set": ns},
						Containers: []*corev1.Container{{Name: "app", Image: "registry.local/kubia:1"}}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			mk("web-0", "Always")
			mk("web-1", "Always")
			mk("job", "Never")

			boundTo := map[string]bool{}
			for _, name := range []string{"web-0", "web-1"} {
				eventually(t, name+" running and ready", func() (bool, error) {
					p, err := pods.Get(ctx, ns, name)
					if err != nil {
						return false, err
					}
					if p.GetStatus().GetPhase() == "Running" && helper.IsPodReady(p) && p.GetStatus().GetPodIP() != "" {
						boundTo[p.GetSpec().GetNodeName()] = true
						return true, nil
					}
					return false, nil
				})
			}
			if len(boundTo) != 2 {
				t.Errorf("pods bound to %v, want both nodes", boundTo)
			}
			eventually(t, "the job to succeed", func() (bool, error) {
				p, err := pods.Get(ctx, ns, "job")
				return err == nil && p.GetStatus().GetPhase() == "Succeeded", err
			})

			k.SetPodUsage(ns, "web-0", PodUsage{CPUMilli: 250, MemoryBytes: 64 << 20})
			web0, _ := pods.Get(ctx, ns, "web-0")
			eventually(t, "web-0's usage in its node's summary", func() (bool, error) {
				data, err := c.NodeStats(ctx, web0.GetSpec().GetNodeName())
				if err != nil {
					return false, err
				}
				var sum struct {
					Pods []struct {
						PodRef struct{ Name string } `json:"podRef"`
						CPU    struct {
							UsageNanoCores uint64 `json:"usageNanoCores"`
						} `json:"cpu"`
						Memory struct {
							WorkingSetBytes uint64 `json:"workingSetBytes"`
						} `json:"memory"`
					} `json:"pods"`
				}
				if err := json.Unmarshal(data, &sum); err != nil {
					return false, err
				}
				for _, p := range sum.Pods {
					if p.PodRef.Name == "web-0" {
						milli := p.CPU.UsageNanoCores / 1e6
						return milli >= 240 && milli <= 260 && p.Memory.WorkingSetBytes == 64<<20, fmt.Errorf("summary %+v", p)
					}
				}
				return false, fmt.Errorf("web-0 not in %s", data)
			})

			if _, err := pods.Delete(ctx, ns, "web-1", nil); err != nil {
				t.Fatal(err)
			}
			eventually(t, "web-1's deletion", func() (bool, error) {
				_, err := pods.Get(ctx, ns, "web-1")
				return apierrors.IsNotFound(err), err
			})
		})
	}
}
