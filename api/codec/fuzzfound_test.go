package codec_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

// Regressions for what the fuzz targets found.

// TestLenientRefusesInvalidJSON: the lenient decoder (fieldValidation=Warn
// or Ignore) scanned for duplicate keys before checking the body was JSON
// at all, and "{" panicked it (FuzzUnmarshalJSON).
func TestLenientRefusesInvalidJSON(t *testing.T) {
	for _, in := range []string{"{", "[", `{"a"`, `{"a":`, `{"a":1,`, `[1,`, `"`, `{}x`, ``} {
		t.Run(in, func(t *testing.T) {
			if _, err := codec.UnmarshalJSONLenient([]byte(in), &corev1.Pod{}); err == nil {
				t.Fatalf("%q decoded", in)
			}
		})
	}
	w, err := codec.UnmarshalJSONLenient([]byte(`{"metadata":{"name":"a","name":"b"},"x":1}`), &corev1.Pod{})
	if err != nil || len(w) != 2 {
		t.Fatalf("warnings %v, err %v", w, err)
	}
}

// TestYAMLPrintsControlCharacters: a string JSON carries raw but YAML
// readers refuse (DEL, C1 controls) made MarshalYAML fail - `-o yaml` of
// such an object was an error (FuzzRoundTrip).
func TestYAMLPrintsControlCharacters(t *testing.T) {
	for _, s := range []string{"a\x7fb", "\u0080", "\u009f", "x\u0085y", "\ufffe", "\uffff", "tab\tand\x01", "é\u2028"} {
		cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "m", Annotations: map[string]string{"a": s}}, Data: map[string]string{s: s}}
		y, err := codec.MarshalYAML(cm)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		back := &corev1.ConfigMap{}
		if err := codec.UnmarshalYAML(y, back); err != nil {
			t.Fatalf("%q: reading back\n%s: %v", s, y, err)
		}
		if !proto.Equal(cm, back) {
			t.Fatalf("%q: round trip gave %q", s, back.Data)
		}
	}
}
