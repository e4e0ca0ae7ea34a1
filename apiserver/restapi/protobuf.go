package restapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	apierrors "minik8s/api/errors"
)

// client-go's typed clients (kubectl create deployment, scale, ...) send
// Kubernetes' protobuf encoding: the "k8s\x00" envelope around the
// k8s.io/api type's message. Our messages share the JSON shape of those
// types, not their protobuf field numbers, so a protobuf body is decoded
// with k8s.io/api's types and handed on as JSON. Answers are always JSON,
// which every client accepts.
var kubeProtobuf = protobuf.NewSerializer(clientgoscheme.Scheme, clientgoscheme.Scheme)

func isProtobuf(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Content-Type"), "application/vnd.kubernetes.protobuf")
}

// protobufToJSON converts a Kubernetes protobuf body to JSON.
func protobufToJSON(data []byte) ([]byte, error) {
	obj, _, err := kubeProtobuf.Decode(data, nil, nil)
	if err != nil {
		return nil, apierrors.NewBadRequest("decoding the protobuf body: " + err.Error())
	}
	out, err := json.Marshal(obj)
	if err != nil {
		// The body decoded into a value JSON cannot carry (an
		// IntOrString of an unknown type): the client's fault.
		return nil, apierrors.NewBadRequest("the protobuf body holds a value that cannot be read: " + err.Error())
	}
	return out, nil
}
