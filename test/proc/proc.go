// Package proc starts helper processes for tests (etcd, daemons) so that
// they die with the test binary.
//
// Pdeathsig fires when the *thread* that forked the child exits, not the
// process. Go threads do exit: a goroutine that ends while locked to its
// thread (as network-namespace code must do when it cannot restore the
// namespace) takes the thread with it, and a child forked from that
// thread would be killed in the middle of the test. So every child is
// forked from one goroutine that locks its thread and never ends.
package proc

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

type request struct {
	cmd *exec.Cmd
	err chan error
}

var (
	once     sync.Once
	requests chan request
)

func forker() {
	runtime.LockOSThread() // never unlocked: this thread lives as long as the process
	for r := range requests {
		r.err <- r.cmd.Start()
	}
}

// Start starts cmd with SIGKILL as its parent-death signal, so it does not
// outlive the test binary even when the binary is killed.
func Start(cmd *exec.Cmd) error {
	once.Do(func() {
		requests = make(chan request)
		go forker()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	r := request{cmd: cmd, err: make(chan error, 1)}
	requests <- r
	return <-r.err
}
