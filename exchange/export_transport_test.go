package exchange

// OnStep runs f at each step boundary the crash tests name (as well as
// the crash hook) until the test ends; f gets the step's name.
func OnStep(t interface{ Cleanup(func()) }, f func(step string)) {
	old := crashpoint
	crashpoint = func(step string) { f(step); old(step) }
	t.Cleanup(func() { crashpoint = old })
}
