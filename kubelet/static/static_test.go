package static

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: busybox\n")
	write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n")
	write("notes.txt", "ignored")
	pods, errs := Load(dir, "node-a")
	if len(pods) != 1 || len(errs) != 1 {
		t.Fatalf("pods %v errs %v", pods, errs)
	}
	p := pods[0]
	if p.Metadata.Name != "web-node-a" || p.Metadata.Namespace != "default" || p.Spec.NodeName != "node-a" ||
		!IsStatic(p) || IsMirror(p) || p.Spec.RestartPolicy != "Always" {
		t.Fatalf("static pod %v", p)
	}
	// Same manifest, same UID (a restarted kubelet adopts it); another node, another UID.
	again, _ := Load(dir, "node-a")
	other, _ := Load(dir, "node-b")
	if again[0].Metadata.Uid != p.Metadata.Uid || other[0].Metadata.Uid == p.Metadata.Uid {
		t.Fatalf("uids %s %s %s", p.Metadata.Uid, again[0].Metadata.Uid, other[0].Metadata.Uid)
	}
	m := MirrorOf(p, "node-a", "node-uid")
	if !IsMirror(m) || UIDFromHash(m.Metadata.Annotations[AnnotationMirror]) != p.Metadata.Uid || m.Metadata.Uid != "" {
		t.Fatalf("mirror %v", m.Metadata)
	}
	if o := m.Metadata.OwnerReferences; len(o) != 1 || o[0].Kind != "Node" || o[0].Name != "node-a" || o[0].Uid != "node-uid" || !o[0].GetController() {
		t.Fatalf("mirror owner %v", o)
	}
	if pods, _ := Load(filepath.Join(dir, "missing"), "n"); len(pods) != 0 {
		t.Fatal("missing dir gave pods")
	}
}
