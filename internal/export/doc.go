// Package export is the one list of what slotcache exports: each metric's
// name, help, kind and how to read it from slotcache.Stats. slotcacheprom,
// slotcacheotel and the live view all read it, so that a metric is named
// once and the three never drift apart.
package export
