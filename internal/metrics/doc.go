// Package metrics holds the lock-free latency histogram behind
// Stats.LoadLatency and Stats.FillWait. It is one data structure, like
// internal/core's Counter: recording is a few atomic adds, reading is a
// snapshot that exporters (Prometheus, OpenTelemetry, the live view) turn
// into their own shapes.
package metrics
