package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	kubelet "minik8s/api/kubelet"
	"minik8s/api/resource"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// NodeProxy is what logs, exec and top need beyond objects: the
// apiserver's relay to kubelets. The gRPC cluster has it.
type NodeProxy interface {
	PodLogs(ctx context.Context, req *rpc.PodLogsRequest, w io.Writer) error
	Exec(ctx context.Context, start *rpc.ExecStart, s client.ExecStreams) (int, error)
	NodeStats(ctx context.Context, node string) ([]byte, error)
}

func (g grpcCluster) PodLogs(ctx context.Context, req *rpc.PodLogsRequest, w io.Writer) error {
	return g.c.PodLogs(ctx, req, w)
}
func (g grpcCluster) Exec(ctx context.Context, start *rpc.ExecStart, s client.ExecStreams) (int, error) {
	return g.c.Exec(ctx, start, s)
}
func (g grpcCluster) NodeStats(ctx context.Context, node string) ([]byte, error) {
	return g.c.NodeStats(ctx, node)
}

func (o *Options) nodeProxy() (NodeProxy, error) {
	c, err := o.Cluster()
	if err != nil {
		return nil, err
	}
	np, ok := c.(NodeProxy)
	if !ok {
		return nil, errors.New("this connection cannot reach kubelets")
	}
	return np, nil
}

// podArg accepts NAME, pod/NAME and pods/NAME, as kubectl logs and exec do.
func podArg(arg string) (string, error) {
	if t, n, ok := strings.Cut(arg, "/"); ok {
		if t != "pod" && t != "pods" && t != "po" {
			return "", fmt.Errorf("%s: only pods are supported here", arg)
		}
		arg = n
	}
	if arg == "" {
		return "", errors.New("a pod name is required")
	}
	return arg, nil
}

func newLogsCommand(o *Options) *cobra.Command {
	var container string
	var follow, previous bool
	var tail int64
	c := &cobra.Command{
		Use:   "logs POD [-c CONTAINER]",
		Short: "Print the logs of a container in a pod",
		Example: "  minictl logs kubia-7d5c9\n" +
			"  minictl logs -f kubia-7d5c9 -c main --tail=20",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("expected exactly one pod name: minictl logs POD [-c CONTAINER]")
			}
			name, err := podArg(args[0])
			if err != nil {
				return err
			}
			np, err := o.nodeProxy()
			if err != nil {
				return err
			}
			ctx := c.Context()
			if !follow {
				var cancel context.CancelFunc
				ctx, cancel = o.requestContext(ctx)
				defer cancel()
			}
			return np.PodLogs(ctx, &rpc.PodLogsRequest{Namespace: o.Namespace, Name: name, Container: container,
				Follow: follow, Previous: previous, TailLines: tail}, o.Out)
		},
	}
	c.Flags().StringVarP(&container, "container", "c", "", "the container to print (needed when the pod has several)")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep streaming the log")
	c.Flags().BoolVarP(&previous, "previous", "p", false, "print the log of the previous, terminated instance")
	c.Flags().Int64Var(&tail, "tail", -1, "lines of the recent log to print (-1: all)")
	return c
}

// exitCodeError makes minictl exit with the remote command's status, as
// kubectl exec does.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string {
	return fmt.Sprintf("command terminated with exit code %d", e.code)
}

func newExecCommand(o *Options) *cobra.Command {
	var container string
	var stdin, tty bool
	c := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [args...]",
		Short: "Run a command in a container",
		Example: "  minictl exec kubia-7d5c9 -- wget -qO- http://10.96.0.12\n" +
			"  minictl exec -it kubia-7d5c9 -- sh",
		RunE: func(c *cobra.Command, args []string) error {
			dash := c.ArgsLenAtDash()
			if len(args) == 0 {
				return errors.New("a pod name is required: minictl exec POD -- COMMAND [args...]")
			}
			if dash != 1 || len(args) < 2 {
				return errors.New("you must specify at least one command for the container, after --: minictl exec POD -- COMMAND [args...]")
			}
			name, err := podArg(args[0])
			if err != nil {
				return err
			}
			np, err := o.nodeProxy()
			if err != nil {
				return err
			}
			streams := client.ExecStreams{Stdout: o.Out, Stderr: o.ErrOut}
			if stdin {
				streams.Stdin = o.In
			}
			if tty {
				restore, resize, err := rawTerminal(o.In)
				if err != nil {
					return err
				}
				defer restore()
				streams.Resize = resize
				streams.Stderr = nil // a terminal has one output stream
			}
			code, err := np.Exec(c.Context(), &rpc.ExecStart{Namespace: o.Namespace, Name: name, Container: container,
				Command: args[1:], Tty: tty}, streams)
			if err != nil {
				return err
			}
			if code != 0 {
				return &exitCodeError{code: code}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&container, "container", "c", "", "the container (needed when the pod has several)")
	c.Flags().BoolVarP(&stdin, "stdin", "i", false, "pass stdin to the command")
	c.Flags().BoolVarP(&tty, "tty", "t", false, "stdin is a terminal: run the command with a TTY")
	return c
}

// rawTerminal puts the terminal on in into raw mode for an interactive
// exec and reports its size now and on every SIGWINCH.
func rawTerminal(in io.Reader) (restore func(), resize <-chan client.TermSize, err error) {
	f, ok := in.(*os.File)
	if !ok {
		return nil, nil, errors.New("-t needs stdin to be a terminal")
	}
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, nil, errors.New("-t needs stdin to be a terminal")
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, nil, fmt.Errorf("terminal raw mode: %w", err)
	}
	ch := make(chan client.TermSize, 4)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	send := func() {
		if ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ); err == nil {
			select {
			case ch <- client.TermSize{Width: uint32(ws.Col), Height: uint32(ws.Row)}:
			default:
			}
		}
	}
	send()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sig:
				send()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
		_ = unix.IoctlSetTermios(fd, unix.TCSETS, old)
	}, ch, nil
}

func newTopCommand(o *Options) *cobra.Command {
	top := &cobra.Command{
		Use:   "top",
		Short: "Show CPU and memory use of nodes or pods",
	}
	top.AddCommand(&cobra.Command{
		Use:     "node [NAME]",
		Aliases: []string{"nodes", "no"},
		Short:   "Show CPU and memory use of nodes",
		RunE:    func(c *cobra.Command, args []string) error { return o.topNodes(c.Context(), args) },
	})
	var all bool
	pods := &cobra.Command{
		Use:     "pod [NAME]",
		Aliases: []string{"pods", "po"},
		Short:   "Show CPU and memory use of pods",
		RunE:    func(c *cobra.Command, args []string) error { return o.topPods(c.Context(), args, all) },
	}
	pods.Flags().BoolVarP(&all, "all-namespaces", "A", false, "pods of every namespace")
	top.AddCommand(pods)
	return top
}

// nodeSummaries reads the stats of the named nodes, or of every node.
func (o *Options) nodeSummaries(ctx context.Context, names []string) ([]*corev1.Node, map[string]*kubelet.Summary, error) {
	np, err := o.nodeProxy()
	if err != nil {
		return nil, nil, err
	}
	nk, _ := scheme.ByResource("nodes")
	api, err := o.resource(nk)
	if err != nil {
		return nil, nil, err
	}
	var nodes []*corev1.Node
	if len(names) > 0 {
		for _, n := range names {
			obj, err := api.Get(ctx, "", n)
			if err != nil {
				return nil, nil, err
			}
			nodes = append(nodes, obj.(*corev1.Node))
		}
	} else {
		l, err := api.List(ctx, "", client.ListOptions{})
		if err != nil {
			return nil, nil, err
		}
		for _, obj := range l.Items {
			nodes = append(nodes, obj.(*corev1.Node))
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Metadata.Name < nodes[j].Metadata.Name })
	sums := map[string]*kubelet.Summary{}
	for _, n := range nodes {
		data, err := np.NodeStats(ctx, n.Metadata.Name)
		if err != nil {
			o.printErr(fmt.Errorf("node %s: %w", n.Metadata.Name, err))
			continue
		}
		var s kubelet.Summary
		if err := json.Unmarshal(data, &s); err != nil {
			o.printErr(fmt.Errorf("node %s: stats: %w", n.Metadata.Name, err))
			continue
		}
		sums[n.Metadata.Name] = &s
	}
	return nodes, sums, nil
}

func (o *Options) topNodes(ctx context.Context, names []string) error {
	ctx, cancel := o.requestContext(ctx)
	defer cancel()
	nodes, sums, err := o.nodeSummaries(ctx, names)
	if err != nil {
		return err
	}
	if len(sums) == 0 {
		return errors.New("metrics not available yet")
	}
	tw := tabwriter.NewWriter(o.Out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCPU(cores)\tCPU%\tMEMORY(bytes)\tMEMORY%")
	for _, n := range nodes {
		s := sums[n.Metadata.Name]
		if s == nil {
			continue
		}
		cpu, mem := nanoCores(s.Node.CPU), workingSet(s.Node.Memory)
		alloc := n.GetStatus().GetAllocatable()
		fmt.Fprintf(tw, "%s\t%dm\t%s\t%dMi\t%s\n", n.Metadata.Name, cpu/1e6,
			percent(float64(cpu)/1e9, quantityValue(alloc["cpu"])), mem>>20, percent(float64(mem), quantityValue(alloc["memory"])))
	}
	return tw.Flush()
}

func (o *Options) topPods(ctx context.Context, names []string, all bool) error {
	ctx, cancel := o.requestContext(ctx)
	defer cancel()
	_, sums, err := o.nodeSummaries(ctx, nil)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	type row struct {
		ns, name string
		cpu, mem uint64
	}
	var rows []row
	for _, s := range sums {
		for _, p := range s.Pods {
			if !all && p.PodRef.Namespace != o.Namespace {
				continue
			}
			if len(want) > 0 && !want[p.PodRef.Name] {
				continue
			}
			rows = append(rows, row{p.PodRef.Namespace, p.PodRef.Name, nanoCores(p.CPU), workingSet(p.Memory)})
		}
	}
	if len(rows) == 0 {
		if len(names) > 0 {
			return fmt.Errorf("pods %q not found or not running", strings.Join(names, ","))
		}
		fmt.Fprintf(o.ErrOut, "No resources found in %s namespace.\n", o.Namespace)
		return nil
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].ns != rows[j].ns {
			return rows[i].ns < rows[j].ns
		}
		return rows[i].name < rows[j].name
	})
	tw := tabwriter.NewWriter(o.Out, 0, 8, 3, ' ', 0)
	if all {
		fmt.Fprintln(tw, "NAMESPACE\tNAME\tCPU(cores)\tMEMORY(bytes)")
	} else {
		fmt.Fprintln(tw, "NAME\tCPU(cores)\tMEMORY(bytes)")
	}
	for _, r := range rows {
		if all {
			fmt.Fprintf(tw, "%s\t", r.ns)
		}
		fmt.Fprintf(tw, "%s\t%dm\t%dMi\n", r.name, r.cpu/1e6, r.mem>>20)
	}
	return tw.Flush()
}

func nanoCores(c *kubelet.CPU) uint64 {
	if c == nil {
		return 0
	}
	return c.UsageNanoCores
}

func workingSet(m *kubelet.Memory) uint64 {
	if m == nil {
		return 0
	}
	return m.WorkingSetBytes
}

func percent(used, total float64) string {
	if total <= 0 {
		return "<unknown>"
	}
	return fmt.Sprintf("%d%%", int(used*100/total+0.5))
}

// quantityValue is a resource quantity as a plain number (cores, bytes);
// 0 when absent or malformed.
func quantityValue(q string) float64 {
	milli, err := resource.ParseQuantity(q)
	if err != nil {
		return 0
	}
	return float64(milli) / 1000
}
