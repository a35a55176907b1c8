//go:build race

package main

// raceDetector says whether the tests run under the race detector, whose
// shadow memory and slowdown make peak RSS figures meaningless.
const raceDetector = true
