package component

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// Verbosity is the -v (or --v) flag: an integer as Kubernetes' klog -v
// takes it, mapped onto slog levels so that -v=0 logs Info and above and
// each step down adds detail, -v=4 reaching slog.LevelDebug (klog's usual
// debug verbosity). For compatibility it also takes a level name (debug,
// info, warn, error, as the kubelet's -v once did, "--v warn" included)
// and true or false (-v=true is debug logging, as several daemons' boolean
// -v once meant). Like klog's, it always takes a value: a bare -v is an
// error, so "-v 4" and "--v warn" parse as one flag. Its zero value is
// -v=0.
type Verbosity struct {
	level slog.Level
}

var _ flag.Value = (*Verbosity)(nil)

// debugV is the -v value at which slog's debug records appear.
const debugV = 4

// AddFlags registers -v on fs (Go's flag package takes -v and --v alike).
func (v *Verbosity) AddFlags(fs *flag.FlagSet) {
	fs.Var(v, "v", "log verbosity: 0 logs info and above, 4 adds debug; a level name (debug, info, warn, error) is accepted too")
}

// Level is the slog level records must reach to be logged.
func (v Verbosity) Level() slog.Level { return v.level }

// String prints the level as an integer -v, or by name above Info.
func (v *Verbosity) String() string {
	if v == nil {
		return "0"
	}
	if v.level > slog.LevelInfo {
		return strings.ToLower(v.level.String())
	}
	return strconv.Itoa(-int(v.level))
}

// Set parses an integer verbosity, a level name or a boolean.
func (v *Verbosity) Set(s string) error {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return fmt.Errorf("verbosity %d: must not be negative", n)
		}
		v.level = slog.Level(-n)
		return nil
	}
	switch strings.ToLower(s) {
	case "true":
		v.level = slog.Level(-debugV)
		return nil
	case "false":
		v.level = slog.LevelInfo
		return nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("verbosity %q: want an integer (0, 4, ...) or a level (debug, info, warn, error)", s)
	}
	v.level = l
	return nil
}

// Logger returns a text logger writing to w at v's level.
func (v Verbosity) Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: v.level}))
}

// SetDefault makes Logger(w) the process's default logger.
func (v Verbosity) SetDefault(w io.Writer) { slog.SetDefault(v.Logger(w)) }

// ParseFlags registers -v on fs, parses args and makes the verbosity's
// logger (to stderr) the default: a daemon's main calls it after adding
// its own flags.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	var v Verbosity
	v.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	v.SetDefault(os.Stderr)
	return nil
}
