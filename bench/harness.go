package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Result is one figure of the run: one contender in one case.
type Result struct {
	// Case is "scenario/variant", e.g. "hits/4g"; contenders are compared
	// within a case.
	Case      string `json:"case"`
	Contender string `json:"contender"`
	// Metric is the case's figure, lower is better, in Unit.
	Metric float64 `json:"metric"`
	Unit   string  `json:"unit"`
	// AllocsPerOp and BytesPerOp are heap allocations per operation in
	// the whole process, when the case measures them.
	AllocsPerOp *float64 `json:"allocs_per_op,omitempty"`
	BytesPerOp  *float64 `json:"bytes_per_op,omitempty"`
	// Ratio is Metric divided by the best Metric of the case (1 for the
	// best), among the comparable results.
	Ratio float64 `json:"ratio"`
	// Extra holds the case's other figures (loads per round, p99...).
	Extra map[string]float64 `json:"extra,omitempty"`
	// Excluded marks a result that is not comparable (e.g. an unbounded
	// cache in a fixed-size case): it gets no ratio and is never the best.
	Excluded bool   `json:"excluded,omitempty"`
	Note     string `json:"note,omitempty"`
	Err      string `json:"error,omitempty"`
}

// caseInfo describes a case for the report.
type caseInfo struct {
	Name        string `json:"case"`
	Description string `json:"description"`
}

// unit is one contender in one scenario: it builds the contender once and
// runs the selected cases on it (or a fresh one per case).
type unit struct {
	Scenario  string
	Contender string
	Redis     bool
	// Cases are the full case names the unit can produce.
	Cases []string
	// Run produces the results of the selected cases.
	Run func(h *harness, selected []string) []Result
	// Interleave marks the throughput units: the consecutive units of a
	// scenario are run in Count rounds, each contender once per round with
	// one timed run, and each result is the median of its rounds. On a
	// shared machine whose load drifts, this spreads the drift over every
	// contender instead of penalising whichever ran during a busy spell.
	Interleave bool
}

// harness runs the units and collects their results.
type harness struct {
	ctx      context.Context
	cfg      config
	redisURL string // "" when the run has no Redis
	filter   *regexp.Regexp
	progress *progress

	cases   []caseInfo
	results []Result
}

// describe records the description of a case, once, in order of first use.
func (h *harness) describe(name, format string, args ...any) {
	for _, c := range h.cases {
		if c.Name == name {
			return
		}
	}
	h.cases = append(h.cases, caseInfo{Name: name, Description: fmt.Sprintf(format, args...)})
}

// selected returns the cases of u that the filter selects.
func (h *harness) selected(u unit) []string {
	var sel []string
	for _, c := range u.Cases {
		if h.filter == nil || h.filter.MatchString(c+"/"+u.Contender) {
			sel = append(sel, c)
		}
	}
	return sel
}

// runAll runs the selected cases of every unit, with a progress bar.
func (h *harness) runAll(units []unit) {
	var blocks [][]job
	for _, u := range units {
		sel := h.selected(u)
		if len(sel) == 0 {
			continue
		}
		j := job{u, sel}
		if n := len(blocks); n > 0 && u.Interleave && blocks[n-1][0].u.Interleave && blocks[n-1][0].u.Scenario == u.Scenario {
			blocks[n-1] = append(blocks[n-1], j)
		} else {
			blocks = append(blocks, []job{j})
		}
	}
	total := 0
	for _, b := range blocks {
		total += len(b) * h.rounds(b[0].u)
	}
	h.progress.start(total)
	for _, b := range blocks {
		rounds := h.rounds(b[0].u)
		var got [][]Result
		for r := range rounds {
			for _, j := range b {
				if h.ctx.Err() != nil {
					break
				}
				label := j.u.Scenario + " · " + j.u.Contender
				if rounds > 1 {
					label += fmt.Sprintf(" (round %d/%d)", r+1, rounds)
				}
				got = append(got, h.runJob(j, label))
			}
		}
		h.results = append(h.results, medianResults(got)...)
	}
	h.progress.finish()
	computeRatios(h.results)
}

// job is a unit and its selected cases.
type job struct {
	u   unit
	sel []string
}

// rounds is how many times a unit runs: Count for interleaved units (each
// run then makes a single timed run), once for the others.
func (h *harness) rounds(u unit) int {
	if u.Interleave {
		return max(h.cfg.Count, 1)
	}
	return 1
}

// runJob runs one unit once.
func (h *harness) runJob(j job, label string) []Result {
	h.progress.step(label)
	if j.u.Redis && h.redisURL == "" {
		return failAll(j.sel, j.u.Contender, errors.New("skipped: no Redis"))
	}
	cfg := h.cfg
	if j.u.Interleave {
		h.cfg.Count = 1
		defer func() { h.cfg = cfg }()
	}
	t0 := time.Now()
	rs := j.u.Run(h, j.sel)
	h.progress.done(time.Since(t0))
	return rs
}

// medianResults merges the rounds of a block: for each case and contender,
// in order of first appearance, the result with the median metric (a
// failure, if any round failed).
func medianResults(rounds [][]Result) []Result {
	type key struct{ c, k string }
	var order []key
	byKey := map[key][]Result{}
	for _, rs := range rounds {
		for _, r := range rs {
			k := key{r.Case, r.Contender}
			if _, ok := byKey[k]; !ok {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], r)
		}
	}
	out := make([]Result, 0, len(order))
	for _, k := range order {
		rs := byKey[k]
		if i := slices.IndexFunc(rs, func(r Result) bool { return r.Err != "" }); i >= 0 {
			out = append(out, rs[i])
			continue
		}
		slices.SortStableFunc(rs, byMetric)
		out = append(out, rs[len(rs)/2])
	}
	return out
}

// computeRatios sets each result's ratio to the best of its case.
func computeRatios(rs []Result) {
	best := map[string]float64{}
	for _, r := range rs {
		if r.Err != "" || r.Excluded || r.Metric <= 0 {
			continue
		}
		if b, ok := best[r.Case]; !ok || r.Metric < b {
			best[r.Case] = r.Metric
		}
	}
	for i := range rs {
		r := &rs[i]
		if b, ok := best[r.Case]; ok && r.Err == "" && !r.Excluded && r.Metric > 0 {
			r.Ratio = r.Metric / b
		}
	}
}

// failed returns the result of a contender that could not run a case.
func failed(caseName, contender string, err error) Result {
	return Result{Case: caseName, Contender: contender, Err: err.Error()}
}

// throughputResult turns a sample into a ns/op result.
func throughputResult(caseName, contender string, s sample) Result {
	a, b := s.allocsPerOp(), s.bytesPerOp()
	return Result{Case: caseName, Contender: contender, Metric: s.nsPerOp(), Unit: "ns/op", AllocsPerOp: &a, BytesPerOp: &b}
}

// sink keeps results alive so that the compiler cannot drop the calls that
// produce them. Each worker writes its own slot.
var sink [64]struct {
	s string
	_ [48]byte // one cache line per worker
}
