package pod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	corev1 "minik8s/api/core/v1"
	"minik8s/kubelet/runtime"
)

// ServiceAccountMountPath is where pods find their service account token.
const ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// saVolume is the name of the automatic service account volume.
const saVolume = "kube-api-access"

// podDirs are the per-pod paths under the kubelet's root directory.
type podDirs struct{ root string }

func (d podDirs) pod() string                  { return d.root }
func (d podDirs) volume(kind, n string) string { return filepath.Join(d.root, "volumes", kind, n) }
func (d podDirs) etcHosts() string             { return filepath.Join(d.root, "etc-hosts") }
func (d podDirs) resolvConf() string           { return filepath.Join(d.root, "resolv.conf") }
func (d podDirs) hostname() string             { return filepath.Join(d.root, "hostname") }
func (d podDirs) logs(container string) string {
	return filepath.Join(d.root, "logs", container)
}

// LogPath is the log file of one instance of a container.
func LogPath(rootDir, podUID, container string, attempt int) string {
	return filepath.Join(rootDir, "pods", podUID, "logs", container, fmt.Sprintf("%d.log", attempt))
}

// prepareVolumes materializes the pod's volumes on the host and returns
// the host path of each by name. ConfigMap, secret, downward API and
// projected volumes are (re)written on every call.
func prepareVolumes(pod *corev1.Pod, dirs podDirs, ec envContext) (map[string]string, error) {
	paths := map[string]string{}
	for _, v := range pod.GetSpec().GetVolumes() {
		p, err := prepareVolume(v, dirs, ec)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.GetName(), err)
		}
		paths[v.GetName()] = p
	}
	if automountSA(pod) {
		dir := dirs.volume("serviceaccount", saVolume)
		if err := writeServiceAccount(dir, pod); err != nil {
			return nil, fmt.Errorf("service account volume: %w", err)
		}
		paths[saVolume] = dir
	}
	return paths, nil
}

func automountSA(pod *corev1.Pod) bool {
	if a := pod.GetSpec().AutomountServiceAccountToken; a != nil && !*a {
		return false
	}
	for _, c := range append(append([]*corev1.Container{}, pod.GetSpec().GetContainers()...), pod.GetSpec().GetInitContainers()...) {
		for _, m := range c.GetVolumeMounts() {
			if m.GetMountPath() == ServiceAccountMountPath {
				return false // the pod mounts its own
			}
		}
	}
	return true
}

// writeServiceAccount writes the namespace, an (empty) CA bundle and the
// token. There is no token issuer yet: the token names the service
// account and is not a signed JWT.
func writeServiceAccount(dir string, pod *corev1.Pod) error {
	sa := pod.GetSpec().GetServiceAccountName()
	if sa == "" {
		sa = "default"
	}
	ns := pod.GetMetadata().GetNamespace()
	files := map[string]string{
		"namespace": ns,
		"ca.crt":    "",
		"token":     fmt.Sprintf("minik8s:serviceaccount:%s:%s", ns, sa),
	}
	for name, data := range files {
		if err := writeFileAtomic(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func prepareVolume(v *corev1.Volume, dirs podDirs, ec envContext) (string, error) {
	ns := ec.pod.GetMetadata().GetNamespace()
	switch {
	case v.GetEmptyDir() != nil:
		dir := dirs.volume("empty-dir", v.GetName())
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
		_ = os.Chmod(dir, 0o777)
		if v.EmptyDir.GetMedium() == "Memory" && !isMountPoint(dir) {
			if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=1777"); err != nil {
				return "", fmt.Errorf("mount tmpfs: %w", err)
			}
		}
		return dir, nil
	case v.GetHostPath() != nil:
		p := v.HostPath.GetPath()
		switch v.HostPath.GetType() {
		case "DirectoryOrCreate":
			if err := os.MkdirAll(p, 0o755); err != nil {
				return "", err
			}
		case "FileOrCreate":
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return "", err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return "", err
			}
			f.Close()
		case "Directory", "File", "Socket", "CharDevice", "BlockDevice":
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("hostPath %s: %w", p, err)
			}
		}
		return p, nil
	case v.GetConfigMap() != nil:
		src := v.ConfigMap
		dir := dirs.volume("configmap", v.GetName())
		cm, err := ec.lookup.ConfigMap(ns, src.GetName())
		if err != nil {
			if src.GetOptional() {
				return dir, os.MkdirAll(dir, 0o755)
			}
			return "", fmt.Errorf("configMap %s: %w", src.GetName(), err)
		}
		data := map[string][]byte{}
		for k, val := range cm.GetData() {
			data[k] = []byte(val)
		}
		for k, val := range cm.GetBinaryData() {
			data[k] = val
		}
		return dir, writeKeys(dir, data, src.GetItems(), mode(src.DefaultMode, 0o644))
	case v.GetSecret() != nil:
		src := v.Secret
		dir := dirs.volume("secret", v.GetName())
		s, err := ec.lookup.Secret(ns, src.GetSecretName())
		if err != nil {
			if src.GetOptional() {
				return dir, os.MkdirAll(dir, 0o755)
			}
			return "", fmt.Errorf("secret %s: %w", src.GetSecretName(), err)
		}
		return dir, writeKeys(dir, s.GetData(), src.GetItems(), mode(src.DefaultMode, 0o644))
	case v.GetDownwardAPI() != nil:
		dir := dirs.volume("downward-api", v.GetName())
		return dir, writeDownward(dir, v.DownwardAPI.GetItems(), ec, mode(v.DownwardAPI.DefaultMode, 0o644))
	case v.GetProjected() != nil:
		dir := dirs.volume("projected", v.GetName())
		m := mode(v.Projected.DefaultMode, 0o644)
		for _, src := range v.Projected.GetSources() {
			switch {
			case src.GetServiceAccountToken() != nil:
				tok, err := projectedToken(ec, src.ServiceAccountToken)
				if err != nil {
					return "", err
				}
				if err := writeFileAtomic(filepath.Join(dir, tokenPath(src.ServiceAccountToken)), tok, m); err != nil {
					return "", err
				}
			case src.GetConfigMap() != nil:
				cm, err := ec.lookup.ConfigMap(ns, src.ConfigMap.GetName())
				if err != nil {
					if src.ConfigMap.GetOptional() {
						continue
					}
					return "", fmt.Errorf("configMap %s: %w", src.ConfigMap.GetName(), err)
				}
				data := map[string][]byte{}
				for k, val := range cm.GetData() {
					data[k] = []byte(val)
				}
				if err := writeKeys(dir, data, src.ConfigMap.GetItems(), m); err != nil {
					return "", err
				}
			case src.GetSecret() != nil:
				s, err := ec.lookup.Secret(ns, src.Secret.GetName())
				if err != nil {
					if src.Secret.GetOptional() {
						continue
					}
					return "", fmt.Errorf("secret %s: %w", src.Secret.GetName(), err)
				}
				if err := writeKeys(dir, s.GetData(), src.Secret.GetItems(), m); err != nil {
					return "", err
				}
			case src.GetDownwardAPI() != nil:
				if err := writeDownward(dir, src.DownwardAPI.GetItems(), ec, m); err != nil {
					return "", err
				}
			}
		}
		return dir, os.MkdirAll(dir, 0o755)
	case v.GetPersistentVolumeClaim() != nil:
		return "", errors.New("persistentVolumeClaim volumes are not supported by this kubelet")
	}
	return "", errors.New("unsupported volume type")
}

func mode(m *int32, def os.FileMode) os.FileMode {
	if m == nil {
		return def
	}
	return os.FileMode(*m) & 0o777
}

// writeKeys writes data's keys (or only items, renamed) as files in dir.
func writeKeys(dir string, data map[string][]byte, items []*corev1.KeyToPath, m os.FileMode) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if len(items) == 0 {
		for k, v := range data {
			if err := writeFileAtomic(filepath.Join(dir, k), v, m); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.GetKey()]
		if !ok {
			return fmt.Errorf("no key %q", it.GetKey())
		}
		if strings.Contains(it.GetPath(), "..") {
			return fmt.Errorf("invalid path %q", it.GetPath())
		}
		fm := m
		if it.Mode != nil {
			fm = os.FileMode(*it.Mode) & 0o777
		}
		if err := writeFileAtomic(filepath.Join(dir, it.GetPath()), v, fm); err != nil {
			return err
		}
	}
	return nil
}

func writeDownward(dir string, items []*corev1.DownwardAPIVolumeFile, ec envContext, m os.FileMode) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, it := range items {
		if strings.Contains(it.GetPath(), "..") {
			return fmt.Errorf("invalid path %q", it.GetPath())
		}
		var val string
		switch p := it.GetFieldRef().GetFieldPath(); p {
		case "metadata.labels":
			val = kvLines(ec.pod.GetMetadata().GetLabels())
		case "metadata.annotations":
			val = kvLines(ec.pod.GetMetadata().GetAnnotations())
		default:
			v, err := fieldRef(p, ec)
			if err != nil {
				return err
			}
			val = v
		}
		if err := writeFileAtomic(filepath.Join(dir, it.GetPath()), []byte(val), m); err != nil {
			return err
		}
	}
	return nil
}

func kvLines(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// containerMounts maps a container's volumeMounts to bind mounts, plus
// /etc/hosts, /etc/resolv.conf, /etc/hostname and the service account.
func containerMounts(pod *corev1.Pod, c *corev1.Container, vols map[string]string, dirs podDirs) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for _, vm := range c.GetVolumeMounts() {
		host, ok := vols[vm.GetName()]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: no such volume", vm.GetName())
		}
		if sp := vm.GetSubPath(); sp != "" {
			if strings.Contains(sp, "..") {
				return nil, fmt.Errorf("volumeMount %q: invalid subPath %q", vm.GetName(), sp)
			}
			host = filepath.Join(host, sp)
			if _, err := os.Stat(host); os.IsNotExist(err) {
				if err := os.MkdirAll(host, 0o755); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, runtime.Mount{HostPath: host, ContainerPath: vm.GetMountPath(), ReadOnly: vm.GetReadOnly()})
	}
	if p, ok := vols[saVolume]; ok {
		out = append(out, runtime.Mount{HostPath: p, ContainerPath: ServiceAccountMountPath, ReadOnly: true})
	}
	has := func(path string) bool {
		for _, m := range out {
			if m.ContainerPath == path {
				return true
			}
		}
		return false
	}
	if !pod.GetSpec().GetHostNetwork() && !has("/etc/hosts") {
		out = append(out, runtime.Mount{HostPath: dirs.etcHosts(), ContainerPath: "/etc/hosts"})
	}
	if !has("/etc/resolv.conf") {
		out = append(out, runtime.Mount{HostPath: dirs.resolvConf(), ContainerPath: "/etc/resolv.conf"})
	}
	if !has("/etc/hostname") {
		out = append(out, runtime.Mount{HostPath: dirs.hostname(), ContainerPath: "/etc/hostname"})
	}
	return out, nil
}

func isMountPoint(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(dir, &st) != nil || unix.Stat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// cleanupPodDir unmounts tmpfs volumes and removes the pod's directory.
func cleanupPodDir(dirs podDirs) error {
	mems, _ := filepath.Glob(filepath.Join(dirs.root, "volumes", "empty-dir", "*"))
	for _, m := range mems {
		if isMountPoint(m) {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
	}
	return os.RemoveAll(dirs.root)
}
