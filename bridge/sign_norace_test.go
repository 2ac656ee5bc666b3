//go:build !race

package bridge_test

const raceOn = false
