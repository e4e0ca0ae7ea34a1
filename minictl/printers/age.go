// Package printers turns API objects into what minictl prints: kubectl-style
// tables per kind, ages, custom columns, JSONPath-ish field lookups and
// sorting. Everything here is a pure function of its inputs (the current
// time is passed in), so it is tested with golden files.
package printers

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// HumanDuration formats d the way kubectl prints ages: precise for short
// durations ("45s", "3m20s", "2h5m") and coarser as they grow ("3d",
// "400d", "2y30d").
func HumanDuration(d time.Duration) string {
	// A clock skew of a second or so still counts as "now".
	if s := int(d.Seconds()); s < -1 {
		return "<invalid>"
	} else if s < 0 {
		return "0s"
	} else if s < 120 {
		return fmt.Sprintf("%ds", s)
	}
	minutes := int(d / time.Minute)
	if minutes < 10 {
		if s := int(d/time.Second) % 60; s != 0 {
			return fmt.Sprintf("%dm%ds", minutes, s)
		}
		return fmt.Sprintf("%dm", minutes)
	}
	if minutes < 3*60 {
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	switch {
	case hours < 8:
		if m := minutes % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", hours, m)
		}
		return fmt.Sprintf("%dh", hours)
	case hours < 48:
		return fmt.Sprintf("%dh", hours)
	case hours < 8*24:
		if h := hours % 24; h != 0 {
			return fmt.Sprintf("%dd%dh", hours/24, h)
		}
		return fmt.Sprintf("%dd", hours/24)
	case hours < 2*365*24:
		return fmt.Sprintf("%dd", hours/24)
	case hours < 8*365*24:
		if d := (hours / 24) % 365; d != 0 {
			return fmt.Sprintf("%dy%dd", hours/24/365, d)
		}
		return fmt.Sprintf("%dy", hours/24/365)
	}
	return fmt.Sprintf("%dy", hours/24/365)
}

// Age is the time since ts as kubectl prints it, or "<unknown>" when ts is unset.
func Age(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		return "<unknown>"
	}
	return HumanDuration(now.Sub(ts.AsTime()))
}
