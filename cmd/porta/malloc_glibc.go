//go:build linux && cgo

package main

// #include <malloc.h>
import "C"

// The C allocator's share of a gateway's memory. libxml2 (schema validation: a copy of the
// payload and its tree) and SQLite (a blob bound to its statement) take buffers the size of a
// message from C's malloc. glibc serves one that large by mmap, and gives it back on free, only
// while it is above a threshold that grows to the largest block freed so far: after the first
// 10 MB message every later one came from the heap, which keeps what it frees, and a gateway's
// peak RSS rose by about 60 MB (measured by porta bench --gateway-memory). A fixed threshold keeps
// large blocks mmapped; blocks below it, the many small ones, are unchanged.
func init() {
	C.mallopt(C.M_MMAP_THRESHOLD, 128<<10)
}
