// Command sealpost exchanges signed and encrypted file bundles with partner
// organisations over SFTP, on a schedule, with a tamper-evident log.
//
// This file wires the command line: it parses the global flags, calls one
// command, and is the only place that turns errors into exit statuses
// (SPEC §4).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
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

// usageError is a command line that cannot be run: exit 2. cmd is the
// command whose usage line the hint quotes (nil: the top level).
type usageError struct {
	err error
	cmd *command
}

func (e *usageError) Error() string { return e.err.Error() }

// Unwrap returns the error the message wraps with %w, if any.
func (e *usageError) Unwrap() error { return errors.Unwrap(e.err) }

// usagef makes a usage error; %w in format wraps an error as fmt.Errorf
// does.
func usagef(format string, a ...any) error { return &usageError{err: fmt.Errorf(format, a...)} }

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
	cmd        *command     // the command running: its help and usage errors quote it
}

// command is one command or subcommand, or a group of subcommands (audit,
// bundle, keys). Its summary, synopsis and examples are written once and
// serve the command list, its --help and the hint of its usage errors.
type command struct {
	name     string // as typed after "sealpost": "bundle seal"
	summary  string // what it does, one line
	synopsis string // its usage after "sealpost ": "bundle seal --to P ... PATH..."
	examples string // lines of examples and notes for --help
	run      func(ctx context.Context, e *env, args []string) error
	subs     []*command // a group's subcommands (run is nil)
}

// word is the last word of the command's name: what selects it in its group.
func (c *command) word() string { return c.name[strings.LastIndex(c.name, " ")+1:] }

// words lists the group's subcommands for messages: "seal, open".
func (c *command) words() string {
	var ws []string
	for _, s := range c.subs {
		ws = append(ws, s.word())
	}
	return strings.Join(ws, ", ")
}

// commands lists the top-level commands in the order help shows them.
func commands() []*command {
	return []*command{runCommand, daemonCommand, sendCommand, statusCommand, checkCommand,
		auditCommand, bundleCommand, keysCommand, demoCommand}
}

// main runs the command line under the root context, which the first
// SIGINT or SIGTERM cancels; a second one ends the process at once.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line under ctx, cancelled by SIGINT or SIGTERM
// in main, and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, logFormat: "text"}
	fs := flag.NewFlagSet("sealpost", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	e.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return exitOK
		}
		return report(stderr, usagef("%v", err))
	}
	if fs.NArg() == 0 {
		printUsage(stderr)
		return exitUsage
	}
	if fs.Arg(0) == "help" {
		return report(stderr, help(ctx, e, fs.Args()[1:]))
	}
	return report(stderr, dispatch(ctx, e, &command{subs: commands()}, fs.Args()))
}

// globalFlags declares the flags every command accepts, before or after
// its name. Their defaults are the values e holds: what a command's flag
// set leaves unset, the top level's set.
func (e *env) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.configPath, "config", e.configPath, "configuration file (default $SEALPOST_CONFIG, then ./sealpost.yaml)")
	fs.StringVar(&e.configPath, "c", e.configPath, "short for --config")
	fs.StringVar(&e.logFormat, "log-format", e.logFormat, "log format on stderr: text or json")
	fs.BoolVar(&e.verbose, "v", e.verbose, "verbose: log every step")
}

// help answers 'sealpost help [COMMAND [SUBCOMMAND]]' on stdout: the
// command's own --help.
func help(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		printUsage(e.stdout)
		return nil
	}
	return dispatch(ctx, e, &command{subs: commands()}, append(args[:len(args):len(args)], "--help"))
}

// dispatch runs the command args select in group c (the top level when
// c has no name). A usage error the command returns is tagged with it, so
// that the hint quotes its usage line.
func dispatch(ctx context.Context, e *env, c *command, args []string) error {
	if c.run != nil {
		e.cmd = c
		err := c.run(ctx, e, args)
		var ue *usageError
		if errors.As(err, &ue) && ue.cmd == nil {
			ue.cmd = c
		}
		return err
	}
	switch {
	case len(args) == 0:
		return &usageError{fmt.Errorf("%s needs a subcommand: %s", c.name, c.words()), c}
	case isHelp(args[0]):
		groupHelp(e.stdout, c)
		return nil
	}
	for _, s := range c.subs {
		if s.word() == args[0] {
			return dispatch(ctx, e, s, args[1:])
		}
	}
	if c.name == "" {
		return usagef("unknown command %q; run 'sealpost help' for the list", args[0])
	}
	return &usageError{fmt.Errorf("unknown %s subcommand %q (have: %s)", c.name, args[0], c.words()), c}
}

// printUsage writes the top-level usage: the commands, examples, where the
// configuration comes from and the exit statuses.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: sealpost [-c|--config FILE] [--log-format text|json] [-v] COMMAND [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nexamples:")
	fmt.Fprintln(w, "  sealpost demo                                  # see a whole exchange, nothing to set up")
	fmt.Fprintln(w, "  sealpost keys generate --id us-cbp -o keys     # our key; send the partner the public half")
	fmt.Fprintln(w, "  sealpost --config /etc/sealpost/sealpost.yaml check")
	fmt.Fprintln(w, "  sealpost send --to uk-hmrc --ref CASE-2026-0042 request.pdf evidence/")
	fmt.Fprintln(w, "  sealpost run && sealpost status")
	fmt.Fprintln(w, "\nThe configuration is -c/--config, else $SEALPOST_CONFIG, else ./sealpost.yaml.")
	fmt.Fprintln(w, globalFlagsNote)
	fmt.Fprintln(w, "Exit status: 0 done, 1 something failed, 2 usage or configuration error, 3 locked by another run.")
	fmt.Fprintln(w, "\nRun 'sealpost help COMMAND' or 'sealpost COMMAND --help' for a command's flags and examples.")
}

// globalFlagsNote says where the global flags may go.
const globalFlagsNote = "The global flags -c/--config, --log-format and -v go before or after COMMAND."

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
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &ee), errors.As(err, new(*exchange.RequestError)):
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
	case errors.As(err, &ue) && ue.cmd != nil && ue.cmd.run == nil && ue.cmd.name != "":
		return fmt.Sprintf("usage: sealpost %s; run 'sealpost help %s' for its subcommands", ue.cmd.synopsis, ue.cmd.name)
	case errors.As(err, &ue) && ue.cmd != nil && ue.cmd.name != "":
		return fmt.Sprintf("usage: sealpost %s; run 'sealpost help %s' for the flags and examples", ue.cmd.synopsis, ue.cmd.name)
	case errors.As(err, &ue):
		return "run 'sealpost help' or 'sealpost help COMMAND'"
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

// partnerFlag is a partner id given on the command line, with the flag
// that gave it ("" when it was not given).
type partnerFlag struct{ flag, id string }

// check refuses a partner the configuration does not have: a usage error
// naming the flag, found before the engine would find it.
func (p partnerFlag) check(cfg *config.Config) error {
	if p.id == "" {
		return nil
	}
	if _, err := cfg.Partner(p.id); err != nil {
		return usagef("--%s: %v", p.flag, err)
	}
	return nil
}

// loadConfig loads the configuration from --config, $SEALPOST_CONFIG or
// ./sealpost.yaml, and checks the partners the command line names.
func (e *env) loadConfig(named ...partnerFlag) (*config.Config, error) {
	path, err := e.configFile()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	for _, p := range named {
		if err := p.check(cfg); err != nil {
			return nil, err
		}
	}
	return cfg, nil
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
		return "", usagef("no configuration: ./sealpost.yaml does not exist; give --config FILE or set SEALPOST_CONFIG")
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

// engine loads the configuration, checks the partners the command line
// names, and starts the engine.
func (e *env) engine(named ...partnerFlag) (*exchange.Engine, error) {
	cfg, err := e.loadConfig(named...)
	if err != nil {
		return nil, err
	}
	return exchange.New(cfg, e.logger())
}
