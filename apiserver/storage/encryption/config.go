package encryption

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// configuration is the file's shape: apiserver.config.k8s.io/v1
// EncryptionConfiguration.
type configuration struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Resources  []struct {
		Resources []string       `json:"resources"`
		Providers []providerSpec `json:"providers"`
	} `json:"resources"`
}

type providerSpec struct {
	AESGCM    *keysSpec `json:"aesgcm,omitempty"`
	AESCBC    *keysSpec `json:"aescbc,omitempty"`
	Secretbox *keysSpec `json:"secretbox,omitempty"`
	Identity  *struct{} `json:"identity,omitempty"`
	KMS       *struct{} `json:"kms,omitempty"`
}

type keysSpec struct {
	Keys []struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
	} `json:"keys"`
}

// Config maps a resource ("secrets") to its providers. The wildcards
// "*." (every resource of the core group) and "*.*" (every resource) of
// Kubernetes' format are kept under those names; For resolves them.
type Config map[string]Chain

// For returns the transformer of a resource of group (nil: stored as is).
// An exact name wins over "*.group", which wins over "*.*".
func (c Config) For(group, resource string) Transformer {
	name := resource
	if group != "" {
		name += "." + group
	}
	for _, k := range []string{name, "*." + group, "*.*"} {
		if ch, ok := c[k]; ok {
			return ch
		}
	}
	return nil
}

// Load reads an EncryptionConfiguration file.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--encryption-provider-config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("--encryption-provider-config %s: %w", path, err)
	}
	return c, nil
}

// Parse checks and builds a configuration.
func Parse(data []byte) (Config, error) {
	var cfg configuration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, err
	}
	if cfg.Kind != "EncryptionConfiguration" || (cfg.APIVersion != "apiserver.config.k8s.io/v1" && cfg.APIVersion != "v1") {
		return nil, fmt.Errorf("want kind EncryptionConfiguration of apiVersion apiserver.config.k8s.io/v1, got %q %q", cfg.Kind, cfg.APIVersion)
	}
	out := Config{}
	for i, r := range cfg.Resources {
		path := fmt.Sprintf("resources[%d]", i)
		if len(r.Resources) == 0 {
			return nil, fmt.Errorf("%s.resources: must name at least one resource", path)
		}
		if len(r.Providers) == 0 {
			return nil, fmt.Errorf("%s.providers: must list at least one provider", path)
		}
		var chain Chain
		for j, ps := range r.Providers {
			ps, err := build(ps, fmt.Sprintf("%s.providers[%d]", path, j))
			if err != nil {
				return nil, err
			}
			chain = append(chain, ps...)
		}
		for j, res := range r.Resources {
			if _, dup := out[res]; dup {
				return nil, fmt.Errorf("%s.resources[%d]: %q is configured twice", path, j, res)
			}
			out[res] = chain
		}
	}
	return out, nil
}

// build returns the providers of one entry: one per key, the first key
// encrypting.
func build(ps providerSpec, path string) ([]provider, error) {
	set := 0
	for _, p := range []bool{ps.AESGCM != nil, ps.AESCBC != nil, ps.Secretbox != nil, ps.Identity != nil, ps.KMS != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("%s: exactly one of aesgcm, aescbc, identity must be set", path)
	}
	var keys *keysSpec
	var mk func(string, []byte) (provider, error)
	var kind string
	switch {
	case ps.Identity != nil:
		return []provider{identity()}, nil
	case ps.Secretbox != nil:
		return nil, fmt.Errorf("%s.secretbox: not supported (use aesgcm or aescbc)", path)
	case ps.KMS != nil:
		return nil, fmt.Errorf("%s.kms: not supported (use aesgcm or aescbc)", path)
	case ps.AESGCM != nil:
		keys, mk, kind = ps.AESGCM, aesGCM, "aesgcm"
	default:
		keys, mk, kind = ps.AESCBC, aesCBC, "aescbc"
	}
	if len(keys.Keys) == 0 {
		return nil, fmt.Errorf("%s.%s.keys: at least one key is required", path, kind)
	}
	var out []provider
	seen := map[string]bool{}
	for i, k := range keys.Keys {
		kp := fmt.Sprintf("%s.%s.keys[%d]", path, kind, i)
		if k.Name == "" || strings.Contains(k.Name, ":") {
			return nil, fmt.Errorf("%s.name: must be non-empty and contain no ':'", kp)
		}
		if seen[k.Name] {
			return nil, fmt.Errorf("%s.name: %q is used twice", kp, k.Name)
		}
		seen[k.Name] = true
		secret, err := base64.StdEncoding.DecodeString(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("%s.secret: not base64: %v", kp, err)
		}
		if n := len(secret); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("%s.secret: key is %d bytes, must be 16, 24 or 32", kp, n)
		}
		p, err := mk(k.Name, secret)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kp, err)
		}
		out = append(out, p)
	}
	return out, nil
}
