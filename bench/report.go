package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// machine describes where the run happened.
type machine struct {
	Date       string `json:"date"`
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	OS         string `json:"os"`
	// LoadBefore and LoadAfter are the 1-minute load averages when the
	// run started and ended: on a shared machine, how busy it was.
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
}

func thisMachine() machine {
	return machine{
		Date:       time.Now().UTC().Format(time.RFC3339),
		CPU:        cpuModel(),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         runtime.Version(),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// loadAverage returns the 1-minute load average (Linux only).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// cpuModel reads the CPU model name from /proc/cpuinfo (Linux only).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// report is the whole run, as -json prints it.
type report struct {
	Machine machine `json:"machine"`
	Quick   bool    `json:"quick"`
	// Interrupted is set when Ctrl-C cut the run short: the results are
	// those of the cases that ran.
	Interrupted bool       `json:"interrupted,omitempty"`
	Config      config     `json:"config"`
	Cases       []caseInfo `json:"cases"`
	Results     []Result   `json:"results"`
	// Headline is slotcache against the best peer of each case.
	Headline []headline `json:"headline"`
}

// headline compares slotcache with the best other contender of a case.
type headline struct {
	Case      string  `json:"case"`
	Unit      string  `json:"unit"`
	Slotcache string  `json:"slotcache"`
	Value     float64 `json:"value"`
	BestPeer  string  `json:"best_peer"`
	PeerValue float64 `json:"peer_value"`
	// Ratio is slotcache's figure over the best peer's: above 1, slotcache
	// loses.
	Ratio float64 `json:"ratio"`
}

// headlines computes slotcache's ratio to the best peer in every case.
func headlines(cases []caseInfo, rs []Result) []headline {
	var hs []headline
	for _, c := range cases {
		var sc, peer *Result
		for i := range rs {
			r := &rs[i]
			if r.Case != c.Name || r.Err != "" || r.Excluded || r.Metric <= 0 {
				continue
			}
			if strings.HasPrefix(r.Contender, "slotcache") {
				if sc == nil || r.Contender == "slotcache" {
					sc = r
				}
			} else if peer == nil || r.Metric < peer.Metric {
				peer = r
			}
		}
		if sc != nil && peer != nil {
			hs = append(hs, headline{Case: c.Name, Unit: sc.Unit, Slotcache: sc.Contender, Value: sc.Metric,
				BestPeer: peer.Contender, PeerValue: peer.Metric, Ratio: sc.Metric / peer.Metric})
		}
	}
	return hs
}

func writeJSON(w io.Writer, rep report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeTable prints one table per case, then the headline table.
func writeTable(w io.Writer, rep report) error {
	m := rep.Machine
	fmt.Fprintf(w, "slotcache side-by-side benchmarks, %s\n", m.Date)
	fmt.Fprintf(w, "%s, %d cores, GOMAXPROCS=%d, %s, %s", m.CPU, m.Cores, m.GOMAXPROCS, m.Go, m.OS)
	if m.LoadBefore != "" {
		fmt.Fprintf(w, ", load average %s at start, %s at end", m.LoadBefore, m.LoadAfter)
	}
	if rep.Quick {
		fmt.Fprint(w, "  (-quick: smoke run, do not quote)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, c := range rep.Cases {
		rows := slices.DeleteFunc(slices.Clone(rep.Results), func(r Result) bool { return r.Case != c.Name })
		if len(rows) == 0 {
			continue
		}
		slices.SortStableFunc(rows, byMetric)
		fmt.Fprintf(w, "\n%s: %s\n", c.Name, c.Description)
		fmt.Fprintf(tw, "contender\t%s\tallocs/op\tB/op\t×best\t\n", rows[0].unitOr())
		for _, r := range rows {
			if r.Err != "" {
				fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t %s\n", r.Contender, r.Err)
				continue
			}
			ratio := "-"
			if r.Ratio > 0 {
				ratio = fmt.Sprintf("%.2f", r.Ratio)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t %s\n", r.Contender, fmtNum(r.Metric), fmtOpt(r.AllocsPerOp), fmtOpt(r.BytesPerOp), ratio, r.details())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Headline) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nslotcache against the best peer of each case (ratio > 1: slotcache loses)\n")
	for _, hl := range rep.Headline {
		fmt.Fprintf(tw, "%s\t%s %s\t%s %s\t%.2f×\t\n", hl.Case, hl.Slotcache, fmtNum(hl.Value), hl.BestPeer, fmtNum(hl.PeerValue), hl.Ratio)
	}
	return tw.Flush()
}

// byMetric orders results best first, failures last.
func byMetric(a, b Result) int {
	rank := func(r Result) float64 {
		switch {
		case r.Err != "":
			return 1e300
		case r.Excluded:
			return 1e299
		}
		return r.Metric
	}
	switch ra, rb := rank(a), rank(b); {
	case ra < rb:
		return -1
	case ra > rb:
		return 1
	}
	return 0
}

func (r Result) unitOr() string {
	if r.Unit == "" {
		return "figure"
	}
	return r.Unit
}

// details prints the extra figures and the note.
func (r Result) details() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Extra)) {
		parts = append(parts, k+"="+fmtNum(r.Extra[k]))
	}
	if r.Note != "" {
		parts = append(parts, r.Note)
	}
	return strings.Join(parts, "  ")
}

// fmtNum prints a figure with about three significant digits.
func fmtNum(v float64) string {
	switch a := max(v, -v); {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.01:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// fmtOpt prints an allocation figure: "-" if not measured, 0 below 0.01
// (the background goroutines' allocations spread over millions of ops).
func fmtOpt(v *float64) string {
	switch {
	case v == nil:
		return "-"
	case *v < 0.01:
		return "0"
	}
	return fmtNum(*v)
}
