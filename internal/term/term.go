// Package term is the terminal code that the slotcache command and the
// bench/ module share: whether output is a terminal (redraw a progress
// line in place) or a log (print plain lines), and the progress bar.
package term

import (
	"io"
	"os"
	"strings"
)

// IsTerminal reports whether w is a character device, such as a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Bar returns a progress bar of width cells, filled to fraction (clamped
// to [0, 1]).
func Bar(width int, fraction float64) string {
	filled := int(float64(width) * min(max(fraction, 0), 1))
	return strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
}
