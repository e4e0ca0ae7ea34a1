// Package encryption encrypts stored values at rest, as Kubernetes'
// EncryptionConfiguration (--encryption-provider-config) does: per
// resource, an ordered list of providers; the first one encrypts what is
// written, and every one of them can decrypt what it wrote, recognised by
// the prefix it stamps on its values ("k8s:enc:aescbc:v1:KEYNAME:"). The
// identity provider stores plain JSON and stamps nothing, so a cluster can
// turn encryption on (and, listing identity first, off again) with values
// of both kinds in etcd; rewriting every object moves them all to the
// first provider (key rotation).
package encryption

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Transformer turns values into what is stored and back. The etcd key is
// the authenticated data of AEAD providers, so a value copied to another
// key does not decrypt.
type Transformer interface {
	// ToStorage encrypts data written at key.
	ToStorage(data []byte, key string) ([]byte, error)
	// FromStorage decrypts a stored value; stale is true when it was not
	// written by the first provider, so a rewrite would change it.
	FromStorage(stored []byte, key string) (data []byte, stale bool, err error)
}

// provider is one entry of a resource's providers list.
type provider struct {
	prefix []byte // "" for identity
	seal   func(data []byte, key string) ([]byte, error)
	open   func(sealed []byte, key string) ([]byte, error)
}

// Chain is the providers of one resource, in the configuration's order.
type Chain []provider

// ToStorage implements Transformer with the first provider.
func (c Chain) ToStorage(data []byte, key string) ([]byte, error) {
	p := c[0]
	if p.seal == nil {
		return data, nil
	}
	sealed, err := p.seal(data, key)
	if err != nil {
		return nil, err
	}
	return append(bytes.Clone(p.prefix), sealed...), nil
}

// FromStorage implements Transformer: the provider whose prefix the value
// carries decrypts it; a value with no known prefix is plain, readable
// only when identity is among the providers.
func (c Chain) FromStorage(stored []byte, key string) ([]byte, bool, error) {
	for i, p := range c {
		if p.seal == nil || !bytes.HasPrefix(stored, p.prefix) {
			continue
		}
		data, err := p.open(stored[len(p.prefix):], key)
		if err != nil {
			return nil, false, fmt.Errorf("decrypt %s with %s: %w", key, bytes.TrimSuffix(p.prefix, []byte(":")), err)
		}
		return data, i != 0, nil
	}
	if bytes.HasPrefix(stored, []byte(EncryptedPrefix)) {
		return nil, false, fmt.Errorf("decrypt %s: no configured provider for %.40q", key, stored)
	}
	for i, p := range c {
		if p.seal == nil {
			return stored, i != 0, nil
		}
	}
	return nil, false, fmt.Errorf("decrypt %s: value is not encrypted and identity is not a provider", key)
}

// EncryptedPrefix starts every encrypted value.
const EncryptedPrefix = "k8s:enc:"

func identity() provider { return provider{} }

// aesGCM seals with AES-GCM: a random 12-byte nonce, then the sealed data
// authenticated together with the etcd key.
func aesGCM(name string, secret []byte) (provider, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return provider{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return provider{}, err
	}
	return provider{
		prefix: []byte(EncryptedPrefix + "aesgcm:v1:" + name + ":"),
		seal: func(data []byte, key string) ([]byte, error) {
			nonce := make([]byte, aead.NonceSize())
			if _, err := rand.Read(nonce); err != nil {
				return nil, err
			}
			return aead.Seal(nonce, nonce, data, []byte(key)), nil
		},
		open: func(sealed []byte, key string) ([]byte, error) {
			n := aead.NonceSize()
			if len(sealed) < n {
				return nil, errors.New("value too short")
			}
			return aead.Open(nil, sealed[:n], sealed[n:], []byte(key))
		},
	}, nil
}

// aesCBC seals with AES-CBC and PKCS#7 padding behind a random IV. It is
// not authenticated (Kubernetes keeps it for compatibility; aesgcm is the
// better choice).
func aesCBC(name string, secret []byte) (provider, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return provider{}, err
	}
	bs := block.BlockSize()
	return provider{
		prefix: []byte(EncryptedPrefix + "aescbc:v1:" + name + ":"),
		seal: func(data []byte, _ string) ([]byte, error) {
			pad := bs - len(data)%bs
			out := make([]byte, bs+len(data)+pad)
			iv := out[:bs]
			if _, err := rand.Read(iv); err != nil {
				return nil, err
			}
			body := out[bs:]
			copy(body, data)
			for i := len(data); i < len(body); i++ {
				body[i] = byte(pad)
			}
			cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
			return out, nil
		},
		open: func(sealed []byte, _ string) ([]byte, error) {
			if len(sealed) < 2*bs || len(sealed)%bs != 0 {
				return nil, errors.New("value is not a whole number of blocks")
			}
			out := make([]byte, len(sealed)-bs)
			cipher.NewCBCDecrypter(block, sealed[:bs]).CryptBlocks(out, sealed[bs:])
			pad := int(out[len(out)-1])
			if pad == 0 || pad > bs || pad > len(out) {
				return nil, errors.New("bad padding")
			}
			for _, b := range out[len(out)-pad:] {
				if int(b) != pad {
					return nil, errors.New("bad padding")
				}
			}
			return out[:len(out)-pad], nil
		},
	}, nil
}
