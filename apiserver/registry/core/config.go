package core

import (
	"maps"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() {
	registry.Register("configmaps", configMapStrategy{})
	registry.Register("secrets", secretStrategy{})
}

// MaxDataSize is the most bytes of data one ConfigMap or Secret may hold.
const MaxDataSize = 1024 * 1024

// validateDataKeys checks the keys of one data map; seen collects keys
// across the maps of one object, which must not repeat.
func validateDataKeys[V any](data map[string]V, p string, seen map[string]string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for _, k := range validation.SortedKeys(data) {
		errs = append(errs, msgs(p, k, validation.IsConfigMapKey(k))...)
		if other, dup := seen[k]; dup {
			errs = append(errs, apierrors.Invalid(p, k, "duplicate of key present in "+other))
		}
		seen[k] = p
	}
	return errs
}

// validateImmutableData refuses changes to data, and unsetting
// immutable, once an object is marked immutable.
func validateImmutableData(newImmutable, oldImmutable *bool, dataEqual bool) []apierrors.FieldError {
	if oldImmutable == nil || !*oldImmutable {
		return nil
	}
	var errs []apierrors.FieldError
	if newImmutable == nil || !*newImmutable {
		errs = append(errs, apierrors.Forbidden("immutable", "field is immutable when `immutable` is set"))
	}
	if !dataEqual {
		errs = append(errs, apierrors.Forbidden("data", "field is immutable when `immutable` is set"))
	}
	return errs
}

// configMapStrategy checks keys and size, and freezes immutable ConfigMaps.
type configMapStrategy struct{ registry.Base }

// Validate checks data and binaryData keys and their total size.
func (configMapStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	cm := obj.(*corev1.ConfigMap)
	seen := map[string]string{}
	errs := validateDataKeys(cm.Data, "data", seen)
	errs = append(errs, validateDataKeys(cm.BinaryData, "binaryData", seen)...)
	size := 0
	for k, v := range cm.Data {
		size += len(k) + len(v)
	}
	for k, v := range cm.BinaryData {
		size += len(k) + len(v)
	}
	if size > MaxDataSize {
		errs = append(errs, apierrors.TooLong("data", MaxDataSize))
	}
	return errs
}

// ValidateUpdate freezes data once immutable is true.
func (configMapStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	n, o := newObj.(*corev1.ConfigMap), oldObj.(*corev1.ConfigMap)
	same := maps.Equal(n.Data, o.Data) && maps.EqualFunc(n.BinaryData, o.BinaryData, bytesEqual)
	return validateImmutableData(n.Immutable, o.Immutable, same)
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// secretStrategy merges stringData into data, checks keys, size and the
// keys each secret type needs, and keeps the type and immutable data.
type secretStrategy struct{ registry.Base }

// Secret types and the data keys they require.
const (
	SecretTypeOpaque              = "Opaque"
	SecretTypeServiceAccountToken = "kubernetes.io/service-account-token"
	SecretTypeDockercfg           = "kubernetes.io/dockercfg"
	SecretTypeDockerConfigJSON    = "kubernetes.io/dockerconfigjson"
	SecretTypeBasicAuth           = "kubernetes.io/basic-auth"
	SecretTypeSSHAuth             = "kubernetes.io/ssh-auth"
	SecretTypeTLS                 = "kubernetes.io/tls"
	// ServiceAccountNameAnnotation names the account a token secret belongs to.
	ServiceAccountNameAnnotation = "kubernetes.io/service-account.name"
)

// Default sets type Opaque and moves stringData into data, as the write-only
// field promises.
func (secretStrategy) Default(obj scheme.Object) {
	s := obj.(*corev1.Secret)
	if s.Type == "" {
		s.Type = SecretTypeOpaque
	}
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

// Validate checks keys, the total size and per-type required keys.
func (secretStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*corev1.Secret)
	errs := validateDataKeys(s.Data, "data", map[string]string{})
	size := 0
	for k, v := range s.Data {
		size += len(k) + len(v)
	}
	if size > MaxDataSize {
		errs = append(errs, apierrors.TooLong("data", MaxDataSize))
	}
	requireKeys := func(keys ...string) {
		for _, k := range keys {
			if _, ok := s.Data[k]; !ok {
				errs = append(errs, apierrors.Required(key("data", k), ""))
			}
		}
	}
	switch s.Type {
	case SecretTypeServiceAccountToken:
		if s.GetMetadata().GetAnnotations()[ServiceAccountNameAnnotation] == "" {
			errs = append(errs, apierrors.Required(key("metadata.annotations", ServiceAccountNameAnnotation), ""))
		}
	case SecretTypeDockercfg:
		requireKeys(".dockercfg")
	case SecretTypeDockerConfigJSON:
		requireKeys(".dockerconfigjson")
	case SecretTypeBasicAuth:
		if _, u := s.Data["username"]; !u {
			if _, p := s.Data["password"]; !p {
				errs = append(errs, apierrors.Required("data[username]", "must specify at least one of `username` or `password`"))
			}
		}
	case SecretTypeSSHAuth:
		requireKeys("ssh-privatekey")
	case SecretTypeTLS:
		requireKeys("tls.crt", "tls.key")
	}
	return errs
}

// ValidateUpdate keeps the type, and the data of an immutable secret.
func (secretStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	n, o := newObj.(*corev1.Secret), oldObj.(*corev1.Secret)
	errs := validation.Immutable("type", n.Type, o.Type)
	return append(errs, validateImmutableData(n.Immutable, o.Immutable, maps.EqualFunc(n.Data, o.Data, bytesEqual))...)
}
