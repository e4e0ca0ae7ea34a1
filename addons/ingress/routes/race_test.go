//go:build race

package routes

// raceEnabled: the race detector slows Build ~20x, so timing targets do
// not apply.
const raceEnabled = true
