package main

import (
	"fmt"
	"os"

	"github.com/slotcache/slotcache/internal/redistest"
)

// throwawayRedis is a redis-server child process for the Redis cases when
// no -redis is given: the test suite's launcher (a free loopback port, no
// persistence), in a directory of its own.
type throwawayRedis struct {
	*redistest.Server
	dir string
}

// startRedis starts a throwaway redis-server and waits until it is ready.
func startRedis() (*throwawayRedis, error) {
	dir, err := os.MkdirTemp("", "slotcache-bench-redis-")
	if err != nil {
		return nil, err
	}
	srv, err := redistest.Launch(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w; or pass -redis URL", err)
	}
	return &throwawayRedis{Server: srv, dir: dir}, nil
}

// stop kills the server, waits until it has been reaped, and removes its
// directory.
func (s *throwawayRedis) stop() {
	s.Kill()
	_ = os.RemoveAll(s.dir)
}
