package main

import (
	"fmt"
	"io"
)

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// groupHelp prints a group's subcommands with their usage lines and what
// they do, and the group's examples ('sealpost keys --help'); for the top
// level, the whole usage.
func groupHelp(w io.Writer, c *command) {
	if c.name == "" {
		printUsage(w)
		return
	}
	fmt.Fprintf(w, "usage: sealpost %s\n\n%s\n\nsubcommands:\n", c.synopsis, c.summary)
	for _, s := range c.subs {
		fmt.Fprintf(w, "  sealpost %s\n      %s\n", s.synopsis, s.summary)
	}
	fmt.Fprintf(w, "\nexamples:\n%s\n\nRun 'sealpost help %s SUBCOMMAND' for its flags.\n", c.examples, c.name)
}
