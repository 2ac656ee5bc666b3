package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"time"

	"github.com/slotcache/slotcache"
)

// Bounds of the cross-instance demo. They are generous: a healthy loopback
// Redis answers in well under a millisecond.
const (
	checkTimeout = 3 * time.Second
	readyTimeout = 5 * time.Second
	dropTimeout  = 2 * time.Second
	// crossTTL outlives the demo, so that only an invalidation can make B
	// drop its entry, whatever SLOTCACHE_TTL_MS says.
	crossTTL = time.Hour
	// While waiting for B to drop the slot, the demo spins for spinFor,
	// then polls every pollEvery.
	spinFor   = time.Millisecond
	pollEvery = 50 * time.Microsecond
)

// crossReport is the outcome of the cross-instance part of the demo.
type crossReport struct {
	// Channel is the throwaway channel the two engines used.
	Channel string
	// Rounds is the number of invalidations measured.
	Rounds int
	// Publish summarises how long A.Invalidate took to return (local drop
	// plus PUBLISH round trip).
	Publish percentiles
	// Drop summarises the time from the start of A.Invalidate until B no
	// longer had the slot cached.
	Drop percentiles
	// A and B are the engines' counters at the end.
	A, B slotcache.Stats
}

// checkDemoRedis checks that the Redis the demo's engines will use
// (FromEnv, as runCross builds them) lets them subscribe, so that the demo
// fails at once with a clear message instead of timing out later.
func checkDemoRedis(ctx context.Context, rawURL string) error {
	return checkRedis(ctx, redisSetting{
		channel: "slotcache:demo:" + rand.Text(), // as runCross's
		where:   "REDIS_URL=" + redact(rawURL),
		fix:     envFix,
		without: "unset REDIS_URL to run only the local demo",
	}, slotcache.FromEnv())
}

// redact hides the password of a Redis URL.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// runCross starts engines A and B from the environment on a throwaway
// channel, and measures, cfg.CrossRounds times, how long an invalidation
// published by A takes to drop a slot that B has cached.
func runCross(ctx context.Context, cfg demoConfig, w io.Writer) (crossReport, error) {
	rep := crossReport{Channel: "slotcache:demo:" + rand.Text(), Rounds: cfg.CrossRounds}
	opts := []slotcache.Option{slotcache.FromEnv(), slotcache.WithChannel(rep.Channel), slotcache.WithTTL(crossTTL)}
	a, err := slotcache.New(opts...)
	if err != nil {
		return rep, fmt.Errorf("engine A: %w", err)
	}
	defer a.Close()
	b, err := slotcache.New(opts...)
	if err != nil {
		return rep, fmt.Errorf("engine B: %w", err)
	}
	defer b.Close()
	for name, e := range map[string]*slotcache.Engine{"A": a, "B": b} {
		rctx, cancel := context.WithTimeout(ctx, readyTimeout)
		err := e.WaitReady(rctx)
		cancel()
		if err != nil {
			return rep, fmt.Errorf("engine %s: Redis did not confirm the subscription to %q within %v: %w",
				name, rep.Channel, readyTimeout, err)
		}
	}

	const id = "demo-slot"
	load := func(context.Context, string) (any, error) { return "value", nil }
	publish := make([]time.Duration, 0, cfg.CrossRounds)
	drop := make([]time.Duration, 0, cfg.CrossRounds)
	for i := range cfg.CrossRounds {
		if _, err := b.Get(ctx, id, load); err != nil {
			return rep, fmt.Errorf("round %d: B.Get: %w", i, err)
		}
		if !b.Cached(id) {
			return rep, fmt.Errorf("round %d: B did not cache %q after Get", i, id)
		}
		start := time.Now()
		if err := a.Invalidate(ctx, id); err != nil {
			return rep, fmt.Errorf("round %d: A.Invalidate: %w", i, err)
		}
		publish = append(publish, time.Since(start))
		for b.Cached(id) {
			if time.Since(start) > dropTimeout {
				return rep, fmt.Errorf("round %d: B still had %q cached %v after A invalidated it", i, id, dropTimeout)
			}
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			// Spin briefly for precision, then poll gently so as not to
			// starve the goroutines being measured on a small machine.
			if time.Since(start) < spinFor {
				runtime.Gosched()
			} else {
				time.Sleep(pollEvery)
			}
		}
		drop = append(drop, time.Since(start))
	}
	rep.Publish = summarize(publish)
	rep.Drop = summarize(drop)
	rep.A, rep.B = a.Stats(), b.Stats()
	return rep, printCross(w, rep)
}

// printCross prints the results of the cross-instance demo.
func printCross(w io.Writer, rep crossReport) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "\nCross-instance invalidation through Redis\n")
	fmt.Fprintf(tw, "  channel\t%s\t(throwaway)\n", rep.Channel)
	fmt.Fprintf(tw, "  rounds\t%d\t(B loads the slot, A invalidates it, wait until B drops it)\n", rep.Rounds)
	if err := tw.Flush(); err != nil { // a new table: the channel name is wide
		return err
	}
	fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\n", "p50", "p90", "p99", "max")
	fmt.Fprintf(tw, "  A.Invalidate returns\t%s\t%s\t%s\t%s\n",
		fmtDur(rep.Publish.P50), fmtDur(rep.Publish.P90), fmtDur(rep.Publish.P99), fmtDur(rep.Publish.Max))
	fmt.Fprintf(tw, "  B no longer cached\t%s\t%s\t%s\t%s\n",
		fmtDur(rep.Drop.P50), fmtDur(rep.Drop.P90), fmtDur(rep.Drop.P99), fmtDur(rep.Drop.Max))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(tw, "\n  invalidations B applied\t%d\n", rep.B.CrossProcessInvalidations)
	fmt.Fprintf(tw, "  invalidations A applied\t%d\t(its own echoes are skipped)\n", rep.A.CrossProcessInvalidations)
	fmt.Fprintf(tw, "  B subscriptions\t%d\t(more than 1 means B resubscribed and flushed)\n", rep.B.Subscriptions)
	return tw.Flush()
}
