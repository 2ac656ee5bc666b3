// Package logtest records what code logs, for tests that check what an
// operator reads: one "LEVEL msg key=value ..." line per record, matched
// by a prefix and parts that the line contains.
package logtest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// Recorder is a slog.Handler that keeps every record as a line. Safe for
// concurrent use; the zero value is ready.
type Recorder struct {
	// Quote writes values quoted (key="a b"), so that a part can match a
	// whole value or its start (`command="PUBLISH x`); unquoted (key=a b)
	// reads as the text handler's output.
	Quote bool

	mu    sync.Mutex
	lines []string
}

func (l *Recorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *Recorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *Recorder) WithGroup(string) slog.Handler            { return l }

func (l *Recorder) Handle(_ context.Context, r slog.Record) error {
	format := " %s=%v"
	if l.Quote {
		format = " %s=%q"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, format, a.Key, a.Value.String())
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

// Count returns how many lines start with prefix and contain every part.
func (l *Recorder) Count(prefix string, parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, line := range l.lines {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		n++
	}
	return n
}

// Has reports whether a line starts with prefix and contains every part.
func (l *Recorder) Has(prefix string, parts ...string) bool { return l.Count(prefix, parts...) > 0 }

// String returns the lines so far, for failure messages.
func (l *Recorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
