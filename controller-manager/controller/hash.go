package controller

import (
	"encoding/binary"
	"hash/fnv"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
)

// alphanums is Kubernetes' SafeEncodeString alphabet: no vowels (no words)
// and no look-alike characters.
const alphanums = "bcdfghjklmnpqrstvwxz2456789"

// SafeEncodeString maps every byte of s into the safe alphabet.
func SafeEncodeString(s string) string {
	r := make([]byte, len(s))
	for i, b := range []byte(s) {
		r[i] = alphanums[int(b)%len(alphanums)]
	}
	return string(r)
}

// ComputeHash returns the pod-template hash of template and the collision
// count: FNV-32a over the template's deterministic protobuf encoding, in
// the decimal-then-safe-encoded form Kubernetes uses ("7c5ddbdf54"). The
// same template always gives the same hash, so a controller restarted
// mid-rollout finds the ReplicaSet it created before.
func ComputeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(template)
	h.Write(raw)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	return SafeEncodeString(uitoa(h.Sum32()))
}

func uitoa(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
