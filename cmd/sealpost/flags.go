package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flags is a command's flag set. Its help comes from the command's
// synopsis, summary and examples, and from the flags themselves; a flag
// may have a one-letter short form (-o for --output) and hidden,
// deprecated spellings that docs of earlier versions promised.
type flags struct {
	*flag.FlagSet
	cmd    *command
	out    io.Writer         // where --help goes: stdout
	short  map[string]string // long name → its one-letter form
	hidden map[string]bool   // names left out of the help
}

// newFlags makes the flag set of the command running, with the global
// flags (hidden: the top-level help lists them). A bad flag gives one
// error line, not the whole usage.
func (e *env) newFlags() *flags {
	fs := flag.NewFlagSet(e.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f := &flags{FlagSet: fs, cmd: e.cmd, out: e.stdout, short: map[string]string{}, hidden: map[string]bool{}}
	e.globalFlags(fs)
	for _, name := range []string{"config", "c", "log-format", "v"} {
		f.hidden[name] = true
	}
	return f
}

// alias makes short (one letter) a second name of the flag long.
func (f *flags) alias(short, long string) {
	f.Var(f.Lookup(long).Value, short, "")
	f.short[long] = short
}

// deprecated makes old a hidden second name of the flag long: a spelling
// that earlier docs promised, kept working.
func (f *flags) deprecated(old, long string) {
	f.Var(f.Lookup(long).Value, old, "deprecated spelling of --"+long)
	f.hidden[old] = true
}

// output declares -o/--output.
func (f *flags) output(usage string) *string {
	out := f.String("output", "", usage)
	f.alias("o", "output")
	return out
}

// help prints the command's usage, flags and examples.
func (f *flags) help() {
	w := f.out
	fmt.Fprintf(w, "usage: sealpost %s\n\n%s\n\nflags:\n", f.cmd.synopsis, f.cmd.summary)
	f.printDefaults(w)
	if f.cmd.examples != "" {
		fmt.Fprintf(w, "\nexamples:\n%s\n", f.cmd.examples)
	}
	fmt.Fprintf(w, "\n%s\n", globalFlagsNote)
}

// printDefaults lists the flags as flag.PrintDefaults does, with long
// names after two dashes, short forms beside them, hidden ones left out.
func (f *flags) printDefaults(w io.Writer) {
	shortOf := map[string]bool{}
	for _, s := range f.short {
		shortOf[s] = true
	}
	f.VisitAll(func(fl *flag.Flag) {
		if f.hidden[fl.Name] || shortOf[fl.Name] {
			return
		}
		names := dashed(fl.Name)
		if s := f.short[fl.Name]; s != "" {
			names = dashed(s) + ", " + names
		}
		typ, usage := flag.UnquoteUsage(fl)
		if typ != "" {
			names += " " + typ
		}
		fmt.Fprintf(w, "  %s\n    \t%s", names, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if fl.DefValue != "" && fl.DefValue != "false" {
			fmt.Fprintf(w, " (default %q)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// dashed writes a flag's name as typed: -o, --output.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// parseNoArgs parses the flags of a subcommand that takes no positional
// arguments, and refuses any.
func parseNoArgs(fs *flags, args []string) error {
	rest, err := parse(fs, args)
	if err == nil && len(rest) > 0 {
		err = usagef("%s takes no arguments, got %q", fs.Name(), rest[0])
	}
	return err
}

// parse parses a subcommand's flags, allowing flags after the positional
// arguments too ("send a.pdf --to uk-hmrc").
func parse(fs *flags, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
