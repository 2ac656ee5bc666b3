package redistest

import "syscall"

// Stop freezes the server with SIGSTOP, like a process stuck in a long GC
// pause or a VM stall: the kernel still accepts connections into its
// backlog and buffers writes, but nothing is answered, so clients block in
// dials, HELLO and reads for as long as their own timeouts allow. Kill,
// and so the test's cleanup, works on a stopped server too and resets
// every connection, releasing whatever waited on it.
func (s *Server) Stop() {
	s.tb.Helper()
	s.signal(syscall.SIGSTOP)
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		s.tb.Fatalf("redistest: signal %v: the server on %s is not running", sig, s.Addr())
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("redistest: signal %v to redis-server on %s: %v", sig, s.Addr(), err)
	}
}
