// Package redistest runs tests against a real redis-server process and lets
// them inject the faults that matter for a cache client: a dead server, a
// server that comes back on the same address, pub/sub connections dropped by
// the server, and network partitions (half-open or cut connections) through
// an in-process TCP proxy.
//
// A real server is used on purpose instead of an in-memory fake: fakes do not
// reproduce connection-level behaviour (CLIENT KILL, half-open sockets,
// restarts), which is exactly what the fault-injection tests exercise.
package redistest
