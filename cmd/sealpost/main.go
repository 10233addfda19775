// Command sealpost exchanges signed and encrypted file bundles with partner
// organisations over SFTP, on a schedule, with a tamper-evident log.
//
// This file wires the command line: it parses the global flags, calls one
// command, and is the only place that turns errors into exit statuses
// (SPEC §4).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	_ "time/tzdata" // CRON_TZ zones work on hosts without a zoneinfo database

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/sftpdrop"
)

// Exit statuses (SPEC §4).
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitLocked = 3
)

// usageError is a command line that cannot be run: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// failedError reports that a command ran but found something wrong (a
// refused bundle, a broken log chain): exit 1, message already printed.
type failedError struct{ msg string }

func (e *failedError) Error() string { return e.msg }

// env is what every command gets: the global flags and the output streams.
type env struct {
	configPath string
	logFormat  string
	verbose    bool
	stdout     io.Writer
	stderr     io.Writer
	bar        *progressBar // progress on a terminal, once a command asked for it
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

func commands() []command {
	return []command{
		{"run", "one exchange cycle now", cmdRun},
		{"daemon", "run on the schedules until SIGINT/SIGTERM (SIGHUP reloads)", cmdDaemon},
		{"send", "queue PATHs as one bundle for a partner", cmdSend},
		{"status", "queues, last success, bundles awaiting receipts and responses", cmdStatus},
		{"check", "check configuration, keys, permissions, host keys and the drop", cmdCheck},
		{"audit", "query, verify, checkpoint and report on the exchange log (audit list|show|verify|checkpoint|report)", cmdAudit},
		{"bundle", "seal or open a bundle file without transfer", cmdBundle},
		{"keys", "generate or inspect OpenPGP keys", cmdKeys},
		{"demo", "a full exchange with a built-in loopback partner", cmdDemo},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("sealpost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&e.configPath, "config", "", "configuration file (default $SEALPOST_CONFIG, then ./sealpost.yaml)")
	fs.StringVar(&e.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.BoolVar(&e.verbose, "v", false, "verbose: log every step")
	fs.Usage = func() { printUsage(stderr) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		printUsage(stderr)
		return exitUsage
	}
	name := fs.Arg(0)
	for _, c := range commands() {
		if c.name == name {
			return report(stderr, c.run(e, fs.Args()[1:]))
		}
	}
	if name == "help" {
		printUsage(stdout)
		return exitOK
	}
	return report(stderr, usagef("unknown command %q; run 'sealpost help' for the list", name))
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: sealpost [--config FILE] [--log-format text|json] [-v] COMMAND [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nexamples:")
	fmt.Fprintln(w, "  sealpost demo                                   # see a whole exchange, nothing to set up")
	fmt.Fprintln(w, "  sealpost keys generate --id us-cbp --out keys   # our key; send the partner the public half")
	fmt.Fprintln(w, "  sealpost --config /etc/sealpost/sealpost.yaml check")
	fmt.Fprintln(w, "  sealpost send --to uk-hmrc --ref CASE-2026-0042 request.pdf evidence/")
	fmt.Fprintln(w, "  sealpost run && sealpost status")
	fmt.Fprintln(w, "\nThe configuration is --config, else $SEALPOST_CONFIG, else ./sealpost.yaml.")
	fmt.Fprintln(w, "Exit status: 0 done, 1 something failed, 2 usage or configuration error, 3 locked by another run.")
	fmt.Fprintln(w, "\nRun 'sealpost COMMAND --help' for a command's flags and examples.")
}

// report prints err as one sentence (and a hint where one helps) and
// returns the exit status it maps to.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var fe *failedError
	if errors.As(err, &fe) {
		if fe.msg != "" {
			fmt.Fprintf(stderr, "sealpost: error: %s\n", fe.msg)
		}
		return exitFailed
	}
	fmt.Fprintf(stderr, "sealpost: error: %s\n", oneLine(err.Error()))
	if h := hint(err); h != "" {
		fmt.Fprintf(stderr, "sealpost: hint: %s\n", h)
	}
	return exitCode(err)
}

// exitCode maps an error to its exit status (SPEC §4).
func exitCode(err error) int {
	var ue *usageError
	var ce *config.Error
	var ee *exchange.ConfigError
	switch {
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &ee):
		return exitUsage
	case onlyLocked(err):
		return exitLocked
	}
	return exitFailed
}

// onlyLocked reports whether every error joined in err is ErrLocked.
func onlyLocked(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !onlyLocked(e) {
				return false
			}
		}
		return len(j.Unwrap()) > 0
	}
	return errors.Is(err, exchange.ErrLocked)
}

// hint suggests a fix for errors whose cure is known.
func hint(err error) string {
	var ue *usageError
	switch {
	case errors.Is(err, sftpdrop.ErrHostKey):
		return "check the server's fingerprint with the partner by phone or another trusted channel before adding its line to known_hosts"
	case errors.Is(err, sftpdrop.ErrAuth):
		return "send the partner the public half of sftp.private_key and ask them to authorize it for this user"
	case errors.Is(err, exchange.ErrLocked):
		return "wait for the other run to finish; 'sealpost status' shows the queues"
	case errors.As(err, &ue):
		return "run 'sealpost help' or 'sealpost COMMAND --help'"
	}
	return ""
}

// oneLine folds a joined multi-error into one line per error, indented,
// each escaped (see audit.Escape): an error may quote a partner's text.
func oneLine(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = audit.Escape(l)
	}
	return strings.Join(lines, "\nsealpost: error: ")
}

// loadConfig loads the configuration from --config, $SEALPOST_CONFIG or
// ./sealpost.yaml.
func (e *env) loadConfig() (*config.Config, error) {
	path, err := e.configFile()
	if err != nil {
		return nil, err
	}
	return config.Load(path)
}

// configFile returns the configuration's path: --config, $SEALPOST_CONFIG
// or ./sealpost.yaml, which must exist.
func (e *env) configFile() (string, error) {
	path := e.configPath
	if path == "" {
		path = os.Getenv("SEALPOST_CONFIG")
	}
	if path == "" {
		path = "sealpost.yaml"
	}
	if _, err := os.Stat(path); err != nil && e.configPath == "" && os.Getenv("SEALPOST_CONFIG") == "" {
		return "", &exchange.ConfigError{Err: fmt.Errorf("no configuration: ./sealpost.yaml does not exist; give --config FILE or set SEALPOST_CONFIG")}
	}
	return path, nil
}

// logger returns the operator's log on stderr: text or JSON, info level
// (debug with -v).
func (e *env) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if e.verbose {
		opts.Level = slog.LevelDebug
	}
	var out io.Writer = e.stderr
	if e.bar != nil {
		out = e.bar // log lines clear the progress line first
	}
	if e.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

// engine loads the configuration and starts the engine.
func (e *env) engine() (*exchange.Engine, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	return exchange.New(cfg, e.logger())
}

// flags is a subcommand's flag set with its help text.
type flags struct {
	*flag.FlagSet
	help func()
}

// newFlags makes a subcommand's flag set. --help prints its usage and
// examples; a bad flag gives one error line, not the whole usage.
func (e *env) newFlags(name, usage, examples string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	help := func() {
		fmt.Fprintf(e.stderr, "usage: sealpost %s\n\nflags:\n", usage)
		fs.SetOutput(e.stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if examples != "" {
			fmt.Fprintf(e.stderr, "\nexamples:\n%s\n", examples)
		}
	}
	return &flags{FlagSet: fs, help: help}
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
