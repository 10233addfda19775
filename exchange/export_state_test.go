package exchange

// State is one state of the state table (docs/states.md) for the crash
// tests: its direction (push or pull), name, and the crash points where a
// killed run leaves its work in it.
type State struct {
	Dir, Name string
	Points    []string
}

// States returns the state table, push's states first.
func States() []State {
	var out []State
	for _, row := range pushTable {
		out = append(out, State{Dir: "push", Name: row.name, Points: row.points})
	}
	for _, row := range pullTable {
		out = append(out, State{Dir: "pull", Name: row.name, Points: row.points})
	}
	return out
}
