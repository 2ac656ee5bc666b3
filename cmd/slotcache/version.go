package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// printVersion prints the slotcache module's version (from the build
// information: a tag, a pseudo-version, or "(devel)" in a checkout) with
// the VCS revision when known, and the Go version, for bug reports.
func printVersion(w io.Writer) {
	version, rev := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					rev += "+dirty"
				}
			}
		}
	}
	if rev != "" {
		version += " " + rev
	}
	fmt.Fprintf(w, "slotcache %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
