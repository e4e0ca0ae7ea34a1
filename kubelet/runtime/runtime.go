// Package runtime is the kubelet's view of the container runtime: pod
// sandboxes (a pause container holding the pod's namespaces) and the app
// containers that join them, images, exec and logs. Containerd implements
// it over a containerd daemon; the kubelet's logic only sees this interface,
// so its unit tests use the in-memory fake in runtime/fake.
//
// Everything the kubelet creates carries labels (LabelPodUID, LabelKind,
// ...) so a restarted kubelet finds and adopts its sandboxes and containers
// by listing them: the runtime is the source of truth, not the kubelet's
// memory.
package runtime

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"
)

// Labels set on every sandbox and container the kubelet creates.
const (
	LabelManaged       = "io.minik8s.managed" // "true"
	LabelKind          = "io.minik8s.kind"    // KindSandbox or KindContainer
	LabelPodUID        = "io.minik8s.pod.uid"
	LabelPodName       = "io.minik8s.pod.name"
	LabelPodNamespace  = "io.minik8s.pod.namespace"
	LabelSandboxID     = "io.minik8s.sandbox.id"
	LabelNetns         = "io.minik8s.sandbox.netns"
	LabelPodIP         = "io.minik8s.sandbox.ip"
	LabelAttempt       = "io.minik8s.attempt"
	LabelContainerName = "io.minik8s.container.name"
	LabelContainerType = "io.minik8s.container.type" // "init" or "app"
	LabelSpecHash      = "io.minik8s.container.hash"
	LabelLogPath       = "io.minik8s.container.log"
	LabelGrace         = "io.minik8s.pod.grace" // termination grace period in seconds
	// LabelOOM is set on a container found exited after an OOM kill.
	LabelOOM = "io.minik8s.oom"

	KindSandbox   = "sandbox"
	KindContainer = "container"
)

// ErrNotFound is returned (wrapped) for an unknown sandbox, container or image.
var ErrNotFound = errors.New("not found")

// SandboxState is Ready while the pause container runs.
type SandboxState string

// Sandbox states.
const (
	SandboxReady    SandboxState = "Ready"
	SandboxNotReady SandboxState = "NotReady"
)

// ContainerState is a container's life stage.
type ContainerState string

// Container states.
const (
	ContainerCreated ContainerState = "Created"
	ContainerRunning ContainerState = "Running"
	ContainerExited  ContainerState = "Exited"
	ContainerUnknown ContainerState = "Unknown"
)

// SandboxConfig describes a pod sandbox to run.
type SandboxConfig struct {
	PodUID, Name, Namespace string
	// Attempt counts sandboxes of this pod (0 for the first).
	Attempt int
	// Hostname of the pod's UTS namespace.
	Hostname string
	// NetnsPath is the network namespace to join (prepared by the network
	// manager); "" means the host's network namespace.
	NetnsPath string
	// HostIPC shares the host's IPC namespace.
	HostIPC bool
	// CgroupParent is the pod's cgroup ("/minik8s/pod<uid>").
	CgroupParent string
	// Image is the pause image, already present.
	Image string
	// Labels are added to the runtime's own labels (pod IP, grace, ...).
	Labels map[string]string
}

// Sandbox is a pod sandbox as the runtime reports it.
type Sandbox struct {
	ID                      string
	PodUID, Name, Namespace string
	Attempt                 int
	State                   SandboxState
	Pid                     uint32
	NetnsPath               string
	CreatedAt               time.Time
	Labels                  map[string]string
}

// Mount is a bind mount into a container.
type Mount struct {
	HostPath, ContainerPath string
	ReadOnly                bool
}

// Resources are the cgroup settings of a container (0 = unset).
type Resources struct {
	CPUShares   uint64
	CPUQuota    int64
	CPUPeriod   uint64
	MemoryLimit int64
}

// Security is the container's securityContext, as the runtime applies it.
type Security struct {
	RunAsUser, RunAsGroup *int64
	Privileged            bool
	CapAdd, CapDrop       []string
	ReadOnlyRootfs        bool
}

// ContainerConfig describes an app or init container of a sandbox.
type ContainerConfig struct {
	Name    string
	Attempt int
	Image   string // a reference of an image present in the runtime
	// Command replaces the image's entrypoint and Args its cmd, with
	// Kubernetes' rules: Command set means Command+Args; only Args set
	// means entrypoint+Args; neither means the image's own.
	Command, Args []string
	Env           []string // "NAME=value"
	WorkingDir    string
	Mounts        []Mount
	Resources     Resources
	Security      Security
	Tty, Stdin    bool
	// LogPath is the file the container's stdout and stderr go to.
	LogPath string
	// HostPID shares the host's PID namespace; SharePID joins the sandbox's.
	HostPID, SharePID bool
	Labels            map[string]string
}

// Container is a container as the runtime reports it.
type Container struct {
	ID, SandboxID, PodUID, Name string
	Attempt                     int
	Init                        bool
	Image                       string // the reference it was created from
	ImageID                     string // digest of the image's manifest
	State                       ContainerState
	Pid                         uint32
	CreatedAt                   time.Time
	StartedAt                   time.Time
	FinishedAt                  time.Time
	ExitCode                    int32
	// Reason is set for Exited: "OOMKilled", "Completed" (exit 0) or "Error".
	Reason  string
	LogPath string
	Labels  map[string]string
}

// Image is an image present in the runtime.
type Image struct {
	Ref  string // the name it was pulled as
	ID   string // manifest digest, "sha256:..."
	Size int64
}

// ExecResult is the outcome of ExecSync.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// TermSize is a terminal size for Exec with a TTY.
type TermSize struct{ Width, Height uint16 }

// ExecOptions are the streams of an interactive exec.
type ExecOptions struct {
	Cmd            []string
	Tty            bool
	Stdin          io.Reader // nil: no stdin
	Stdout, Stderr io.Writer // Stderr is unused with Tty
	Resize         <-chan TermSize
}

// Stats is a point-in-time usage sample of a container or pod cgroup.
type Stats struct {
	Time             time.Time
	CPUUsageNanos    uint64 // cumulative
	MemoryUsageBytes uint64
	// MemoryWorkingSetBytes is usage minus inactive file cache, what the
	// OOM killer weighs.
	MemoryWorkingSetBytes uint64
}

// Event says something happened to a container; the kubelet relists the
// pod it belongs to.
type Event struct {
	ContainerID string
	Type        string // "exit", "oom", "start"
}

// Runtime is the container runtime the kubelet drives. All methods are safe
// for concurrent use. Methods taking an ID return an error wrapping
// ErrNotFound for an unknown one; Stop and Remove methods of something
// already gone return nil.
type Runtime interface {
	// Version names the runtime ("containerd 1.6.20").
	Version(ctx context.Context) (string, error)

	// PullImage fetches and unpacks ref.
	PullImage(ctx context.Context, ref string) (Image, error)
	// GetImage returns the image ref if present, else ErrNotFound.
	GetImage(ctx context.Context, ref string) (Image, error)
	// ListImages lists the images present.
	ListImages(ctx context.Context) ([]Image, error)

	// RunSandbox creates and starts the pause container of a pod.
	RunSandbox(ctx context.Context, cfg SandboxConfig) (Sandbox, error)
	// StopSandbox stops the pause container (the app containers must be
	// stopped first).
	StopSandbox(ctx context.Context, id string) error
	// RemoveSandbox removes the stopped pause container.
	RemoveSandbox(ctx context.Context, id string) error
	// ListSandboxes lists every sandbox this kubelet created.
	ListSandboxes(ctx context.Context) ([]Sandbox, error)
	// PodSandboxes lists the sandboxes of one pod; cheaper than
	// ListSandboxes on a busy node.
	PodSandboxes(ctx context.Context, podUID string) ([]Sandbox, error)

	// CreateContainer creates a container joining sb's namespaces.
	CreateContainer(ctx context.Context, sb Sandbox, cfg ContainerConfig) (string, error)
	// StartContainer starts a created container.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends SIGTERM, waits up to grace, then SIGKILLs and
	// waits for the exit.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer removes a container and its filesystem.
	RemoveContainer(ctx context.Context, id string) error
	// ListContainers lists every container (not sandboxes) this kubelet created.
	ListContainers(ctx context.Context) ([]Container, error)
	// PodContainers lists the containers of one pod.
	PodContainers(ctx context.Context, podUID string) ([]Container, error)
	// ContainerStatus reports one container.
	ContainerStatus(ctx context.Context, id string) (Container, error)

	// ExecSync runs cmd in a running container and collects its output;
	// it gives up (killing the process) after timeout.
	ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (ExecResult, error)
	// Exec runs a process in a running container with the given streams
	// and returns its exit code when it ends.
	Exec(ctx context.Context, id string, opts ExecOptions) (int, error)

	// ContainerStats samples a running container's cgroup.
	ContainerStats(ctx context.Context, id string) (Stats, error)

	// Events streams container events until ctx ends. It may miss events;
	// the kubelet also relists periodically.
	Events(ctx context.Context) <-chan Event
}

// AttemptOf reads the attempt label.
func AttemptOf(labels map[string]string) int {
	n, _ := strconv.Atoi(labels[LabelAttempt])
	return n
}
