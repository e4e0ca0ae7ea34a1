package printers

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// HumanDuration formats d the way Kubernetes prints ages and durations:
// precise while short ("45s", "3m20s", "5h7m") and coarser as it grows
// ("3d", "400d", "2y30d").
func HumanDuration(d time.Duration) string {
	// A clock skew of a second still reads as "now"; more is an error.
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
	const day, year = 24, 365 * 24
	switch {
	case hours < 8:
		if m := minutes % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", hours, m)
		}
		return fmt.Sprintf("%dh", hours)
	case hours < 2*day:
		return fmt.Sprintf("%dh", hours)
	case hours < 8*day:
		if h := hours % day; h != 0 {
			return fmt.Sprintf("%dd%dh", hours/day, h)
		}
		return fmt.Sprintf("%dd", hours/day)
	case hours < 2*year:
		return fmt.Sprintf("%dd", hours/day)
	case hours < 8*year:
		if d := (hours / day) % 365; d != 0 {
			return fmt.Sprintf("%dy%dd", hours/year, d)
		}
		return fmt.Sprintf("%dy", hours/year)
	}
	return fmt.Sprintf("%dy", hours/year)
}

// Age is the time from ts to now as HumanDuration prints it, or "<unknown>"
// when ts is unset (nil or the zero Unix time, which is what an absent
// timestamp decodes to).
func Age(ts *timestamppb.Timestamp, now time.Time) string {
	if isUnset(ts) {
		return "<unknown>"
	}
	return HumanDuration(now.Sub(ts.AsTime()))
}

// CreatedAt is ts in UTC as RFC 3339, the cell of a "date" column, or
// "<unknown>" when ts is unset.
func CreatedAt(ts *timestamppb.Timestamp) string {
	if isUnset(ts) {
		return "<unknown>"
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

func isUnset(ts interface {
	GetSeconds() int64
	GetNanos() int32
}) bool {
	return ts.GetSeconds() == 0 && ts.GetNanos() == 0
}
