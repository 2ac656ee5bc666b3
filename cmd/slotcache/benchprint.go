package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// writeBenchJSON prints the report as indented JSON.
func writeBenchJSON(w io.Writer, rep benchReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// printBench prints the report for a person.
func printBench(w io.Writer, rep benchReport) error {
	cfg := rep.Config
	tw := newTable(w)
	fmt.Fprintf(tw, "slotcache bench\n")
	if cfg.RedisURL == "" {
		fmt.Fprintf(tw, "  instances\t%d\t(local engine, no Redis)\n", cfg.Instances)
	} else {
		fmt.Fprintf(tw, "  instances\t%d\t(on %s, channel %s)\n", cfg.Instances, cfg.RedisURL, rep.Channel)
	}
	dist := fmt.Sprintf("Zipf s=%g", cfg.Zipf)
	if cfg.Zipf == 0 {
		dist = "uniform"
	}
	fmt.Fprintf(tw, "  workers\t%d\t(goroutines calling Get, spread over the instances)\n", cfg.Workers)
	fmt.Fprintf(tw, "  keys\t%d\t(%s)\n", cfg.Keys, dist)
	fmt.Fprintf(tw, "  loader latency\t%s–%s\n", fmtDur(cfg.LoadLatency*2/3), fmtDur(cfg.LoadLatency*5/3))
	fmt.Fprintf(tw, "  ttl\t%v\n", cfg.TTL)
	fmt.Fprintf(tw, "  invalidations\t%g/s\t(random slots, on instance 0)\n", cfg.InvalidateRate)
	fmt.Fprintf(tw, "  duration\t%s\t(cold start included)\n", fmtDur(rep.Wall))

	fmt.Fprintf(tw, "\nResults\n")
	fmt.Fprintf(tw, "  throughput\t%s Gets/s\n", humanCount(rep.GetsPerSec))
	fmt.Fprintf(tw, "  Gets\t%d\t(%d failed)\n", rep.Gets, rep.GetErrors)
	fmt.Fprintf(tw, "  hit ratio\t%.2f%%\t(%d hits, %d misses)\n", 100*rep.HitRatio, rep.Hits, rep.Misses)
	fmt.Fprintf(tw, "  loader calls\t%d\t(%d misses joined a load in flight)\n", rep.LoaderCalls, rep.Coalesced)
	fmt.Fprintf(tw, "  invalidations\t%d\t(%d publishes failed)\n", rep.Invalidations, rep.PublishErrors)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(tw, "\nGet latency\t%s\t%s\t%s\t%s\t%s\t\n", "p50", "p90", "p99", "p99.9", "max")
	printLatency(tw, fmt.Sprintf("  all Gets (1 in %d timed)", timedEvery), rep.Latency)
	if rep.Lag != nil {
		printLatency(tw, "  invalidation lag", rep.Lag.Latency)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Lag != nil {
		fmt.Fprintf(w, "\nInvalidation lag: %d probes; each invalidates a slot on instance 0 and times how\n"+
			"long until each other instance no longer has it cached (%d missed it for %v).\n",
			rep.Lag.Probes, rep.Lag.Lost, lagTimeout)
	}
	if len(rep.Applied) > 0 {
		parts := make([]string, len(rep.Applied))
		for i, n := range rep.Applied {
			parts[i] = fmt.Sprintf("#%d: %d applied, %d subscription(s)", i, n, rep.Subscriptions[i])
		}
		fmt.Fprintf(w, "Per instance: %s\n", strings.Join(parts, "; "))
	}
	return nil
}

// printLatency prints one row of percentiles.
func printLatency(w io.Writer, label string, l latencySummary) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t\n", label, fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max))
}
