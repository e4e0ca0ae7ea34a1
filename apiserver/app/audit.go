package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"

	"minik8s/apiserver/audit"
)

// AuditOptions are kube-apiserver's flags of the audit log backend.
// Without --audit-policy-file and --audit-log-path nothing is recorded.
type AuditOptions struct {
	PolicyFile string
	LogPath    string // "-" is standard output
	MaxAge     int    // days to keep rotated files (0: no limit)
	MaxBackup  int    // rotated files to keep (0: no limit)
	MaxSize    int    // megabytes before rotation (0: lumberjack's 100)
	Compress   bool
	Format     string
	// Mode is batch (buffered, written by one goroutine) or blocking (each
	// event written by its request).
	Mode  string
	Batch audit.BatchConfig
}

// AddFlags registers the options on fs.
func (o *AuditOptions) AddFlags(fs *flag.FlagSet) {
	def := audit.DefaultBatchConfig()
	fs.StringVar(&o.PolicyFile, "audit-policy-file", "", "audit.k8s.io/v1 Policy deciding which requests are recorded and at which level (None, Metadata, Request, RequestResponse); without it nothing is recorded")
	fs.StringVar(&o.LogPath, "audit-log-path", "", "file the audit log is written to, as JSON lines (audit.k8s.io/v1 Event); \"-\" is standard output")
	fs.IntVar(&o.MaxAge, "audit-log-maxage", 0, "days to keep rotated audit log files (by the timestamp in their name); 0 keeps them")
	fs.IntVar(&o.MaxBackup, "audit-log-maxbackup", 0, "rotated audit log files to keep; 0 keeps them all (subject to --audit-log-maxage)")
	fs.IntVar(&o.MaxSize, "audit-log-maxsize", 0, "megabytes an audit log file reaches before it is rotated; 0 means 100")
	fs.BoolVar(&o.Compress, "audit-log-compress", false, "gzip rotated audit log files")
	fs.StringVar(&o.Format, "audit-log-format", "json", "format of the audit log: json (one Event per line; the only format)")
	fs.StringVar(&o.Mode, "audit-log-mode", "batch", "batch: events are buffered and written in batches by one goroutine (flushed at least every --audit-log-batch-max-wait, and at shutdown); blocking: each request writes its events itself")
	fs.IntVar(&o.Batch.BufferSize, "audit-log-batch-buffer-size", def.BufferSize, "events buffered in batch mode before requests wait for the writer")
	fs.IntVar(&o.Batch.MaxBatchSize, "audit-log-batch-max-size", def.MaxBatchSize, "events written at most in one batch")
	fs.DurationVar(&o.Batch.MaxBatchWait, "audit-log-batch-max-wait", def.MaxBatchWait, "longest time a buffered event waits to be written")
}

// Validate checks the flags.
func (o *AuditOptions) Validate() error {
	if o.Format != "" && o.Format != "json" {
		return fmt.Errorf("--audit-log-format %q: only json is supported", o.Format)
	}
	if o.Mode != "" && o.Mode != "batch" && o.Mode != "blocking" {
		return fmt.Errorf("--audit-log-mode %q: batch or blocking", o.Mode)
	}
	if o.MaxAge < 0 || o.MaxBackup < 0 || o.MaxSize < 0 {
		return errors.New("--audit-log-maxage, --audit-log-maxbackup and --audit-log-maxsize must not be negative")
	}
	if o.Batch.BufferSize < 0 || o.Batch.MaxBatchSize < 0 || o.Batch.MaxBatchWait < 0 {
		return errors.New("--audit-log-batch-* must not be negative")
	}
	return nil
}

// Build reads the policy and opens the log; nil (auditing off) without
// both a policy file and a log path. Shut the auditor down after the
// servers stopped: it writes what is buffered.
func (o *AuditOptions) Build() (*audit.Auditor, error) {
	if o.PolicyFile == "" || o.LogPath == "" {
		return nil, nil
	}
	policy, err := audit.LoadPolicy(o.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("--audit-policy-file: %w", err)
	}
	w, err := o.writer()
	if err != nil {
		return nil, err
	}
	var backend audit.Backend = audit.NewLogBackend(w)
	if o.Mode != "blocking" {
		backend = audit.NewBuffered(backend, o.Batch)
	}
	return audit.New(policy, backend), nil
}

// writer is standard output for "-", else the file behind a rotating
// writer. The file is made now (mode 0600, its directory 0700), so a bad
// path fails at start, not at the first request.
func (o *AuditOptions) writer() (io.Writer, error) {
	if o.LogPath == "-" {
		return nopCloser{os.Stdout}, nil
	}
	if err := os.MkdirAll(filepath.Dir(o.LogPath), 0o700); err != nil {
		return nil, fmt.Errorf("--audit-log-path: %w", err)
	}
	f, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--audit-log-path: %w", err)
	}
	_ = f.Close()
	return &lumberjack.Logger{
		Filename: o.LogPath, MaxAge: o.MaxAge, MaxBackups: o.MaxBackup, MaxSize: o.MaxSize, Compress: o.Compress,
	}, nil
}

// nopCloser keeps Shutdown from closing standard output.
type nopCloser struct{ io.Writer }
