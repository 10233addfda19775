package main

import (
	"fmt"
	"strings"
)

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// subcommandHelp prints the subcommands of a command with examples, for
// 'sealpost keys --help' and the like. usages pair a usage line with what
// it does.
func subcommandHelp(e *env, name string, usages [][2]string, examples string) {
	fmt.Fprintf(e.stderr, "usage:\n")
	for _, u := range usages {
		fmt.Fprintf(e.stderr, "  sealpost %-50s %s\n", u[0], u[1])
	}
	fmt.Fprintf(e.stderr, "\nexamples:\n%s\n\nRun 'sealpost %s SUBCOMMAND --help' for its flags.\n", strings.TrimRight(examples, "\n"), name)
}
