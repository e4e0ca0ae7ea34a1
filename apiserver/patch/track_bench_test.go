package patch

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	"minik8s/api/scheme"
)

// benchPod is a pod as a Deployment's ReplicaSet creates it.
const benchPod = `{"apiVersion":"v1","kind":"Pod",
 "metadata":{"name":"web-1","namespace":"default","uid":"u1","resourceVersion":"5","labels":{"app":"web","pod-template-hash":"abc"},
  "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-abc","uid":"u0","controller":true,"blockOwnerDeletion":true}]},
 "spec":{"containers":[{"name":"app","image":"nginx:1.0","ports":[{"containerPort":80,"protocol":"TCP"}],
   "env":[{"name":"A","value":"1"}],"resources":{},"terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent"}],
  "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","schedulerName":"default-scheduler"},
 "status":{"phase":"Pending"}}`

func benchObject(b *testing.B, k *scheme.Kind) scheme.Object {
	o := k.New()
	if err := codec.UnmarshalJSON([]byte(benchPod), o); err != nil {
		b.Fatal(err)
	}
	return o
}

// BenchmarkTrackObjectCreate: the create fast path against the field
// manager's way to the same entry.
func BenchmarkTrackObjectCreate(b *testing.B) {
	k, _ := scheme.ByKind("v1", "Pod")
	pod := benchObject(b, k)
	now := time.Unix(1e9, 0)
	for _, side := range []struct {
		name  string
		track func(*scheme.Kind, string, scheme.Object, scheme.Object, string, time.Time) (scheme.Object, error)
	}{{"fieldmanager", trackWrite}, {"fastpath", TrackObject}} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := side.track(k, "", nil, proto.Clone(pod).(scheme.Object), "kube-controller-manager", now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTrackObjectUpdate(b *testing.B) {
	k, _ := scheme.ByKind("v1", "Pod")
	now := time.Unix(1e9, 0)
	old, err := TrackObject(k, "", nil, benchObject(b, k), "kube-controller-manager", now)
	if err != nil {
		b.Fatal(err)
	}
	next := k.New()
	data, _ := codec.MarshalJSON(old)
	if err := codec.UnmarshalJSON(data, next); err != nil {
		b.Fatal(err)
	}
	next.GetMetadata().Labels["extra"] = "x"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := TrackObject(k, "", old, next, "kubectl", now); err != nil {
			b.Fatal(err)
		}
	}
}
