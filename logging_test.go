package slotcache

import (
	"io"
	"log/slog"
)

func newTextLogger(w io.Writer) *slog.Logger { // Info and up, as a typical service configures it
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
