// Package cgroups reads usage from and cleans up the kubelet's cgroups,
// on cgroup v1 (one hierarchy per controller) and v2 (the unified one).
// Paths are cgroup paths like "/minik8s/pod<uid>/<container>", the same
// string the OCI spec's cgroupsPath carries.
package cgroups

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Root is where the cgroup filesystems are mounted.
var Root = "/sys/fs/cgroup"

// V2 reports whether the machine uses the unified hierarchy only.
func V2() bool {
	_, err := os.Stat(filepath.Join(Root, "cgroup.controllers"))
	return err == nil
}

// Usage is a sample of one cgroup.
type Usage struct {
	Time                  time.Time
	CPUUsageNanos         uint64
	MemoryUsageBytes      uint64
	MemoryWorkingSetBytes uint64
}

// Read samples the cgroup at path.
func Read(path string) (Usage, error) {
	u := Usage{Time: time.Now()}
	if V2() {
		dir := filepath.Join(Root, path)
		stat, err := keyValues(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			return u, fmt.Errorf("read cgroup %s: %w", path, err)
		}
		u.CPUUsageNanos = stat["usage_usec"] * 1000
		u.MemoryUsageBytes, _ = readUint(filepath.Join(dir, "memory.current"))
		mstat, _ := keyValues(filepath.Join(dir, "memory.stat"))
		u.MemoryWorkingSetBytes = sub(u.MemoryUsageBytes, mstat["inactive_file"])
		return u, nil
	}
	cpu, err := readUint(filepath.Join(Root, "cpuacct", path, "cpuacct.usage"))
	if err != nil {
		return u, fmt.Errorf("read cgroup %s: %w", path, err)
	}
	u.CPUUsageNanos = cpu
	u.MemoryUsageBytes, _ = readUint(filepath.Join(Root, "memory", path, "memory.usage_in_bytes"))
	mstat, _ := keyValues(filepath.Join(Root, "memory", path, "memory.stat"))
	u.MemoryWorkingSetBytes = sub(u.MemoryUsageBytes, mstat["total_inactive_file"])
	return u, nil
}

// OOMKilled reports whether the kernel OOM-killed a process of the cgroup
// at path (false when the cgroup is gone or the kernel does not say).
func OOMKilled(path string) bool {
	if V2() {
		ev, err := keyValues(filepath.Join(Root, path, "memory.events"))
		return err == nil && ev["oom_kill"] > 0
	}
	ev, err := keyValues(filepath.Join(Root, "memory", path, "memory.oom_control"))
	return err == nil && ev["oom_kill"] > 0
}

// Remove deletes the cgroup at path and the cgroups below it, in every
// hierarchy, deepest first. Processes must be gone; a missing cgroup is fine.
func Remove(path string) error {
	if path == "" || path == "/" {
		return errors.New("refusing to remove the root cgroup")
	}
	var dirs []string
	if V2() {
		dirs = []string{filepath.Join(Root, path)}
	} else {
		entries, err := os.ReadDir(Root)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() || e.Type()&os.ModeSymlink != 0 {
				// Skip symlinked co-mounts ("cpu" -> "cpu,cpuacct") as their
				// target is visited under its own name.
				if fi, err := os.Lstat(filepath.Join(Root, e.Name())); err == nil && fi.Mode()&os.ModeSymlink != 0 {
					continue
				}
				dirs = append(dirs, filepath.Join(Root, e.Name(), path))
			}
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := removeTree(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeTree rmdirs a cgroup directory bottom-up (cgroup dirs cannot be
// removed with their control files, only with rmdir).
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	var rerr error
	for i := 0; i < 5; i++ {
		// Processes just killed may take a moment to leave the cgroup.
		if rerr = os.Remove(dir); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond * time.Duration(i+1))
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, rerr)
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// keyValues parses "key value" lines.
func keyValues(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
