package redistest

import (
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// Launch starts a throwaway redis-server outside a test, for tools (the
// bench/ module's runner) that need one: the same launcher as Start (a free
// loopback port, no persistence, readiness checked against the process
// ID), working in dir. Stop it with Kill; methods that fail a test (Restart,
// KillPubSubClients, WaitSubscribers) must not be called on it.
func Launch(dir string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not on PATH (apt-get install redis-server): %w", err)
	}
	s := &Server{bin: bin, dir: dir}
	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		s.port = port
		p, err := s.launch(time.Now().Add(readyTimeout))
		if err == nil {
			s.setProc(p)
			return s, nil
		}
		errs = append(errs, fmt.Errorf("port %d: %w", port, err))
	}
	return nil, fmt.Errorf("redis-server did not start after %d attempts: %w", startAttempts, errors.Join(errs...))
}
