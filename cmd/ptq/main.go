package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// command is one ptq subcommand.
type command struct {
	name    string
	summary string // one line for the usage text
	// run executes the command with the arguments after its name. It
	// returns an error wrapping errUsage for bad flags or arguments, or
	// flag.ErrHelp when help was asked for.
	run func(args []string, stdout, stderr io.Writer) error
}

// commands holds the registered subcommands by name.
var commands = map[string]command{}

// register adds a subcommand; each command's file calls it from init. It
// panics on a duplicate name, a programming error.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic(fmt.Sprintf("ptq: command %q registered twice", c.name))
	}
	commands[c.name] = c
}

// errUsage marks bad command-line flags or arguments (exit status 2).
var errUsage = errors.New("usage error")

// usageError is a message about bad flags or arguments; it matches
// errUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Is makes errors.Is(err, errUsage) true.
func (e *usageError) Is(target error) bool { return target == errUsage }

// usageErrorf returns an error matching errUsage.
func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run executes ptq with args (without the program name) and returns the
// exit status: 0 on success, 1 when the command failed, 2 on bad usage,
// 130 when SIGINT or SIGTERM stopped it.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ptq: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "ptq %s: %v\nRun 'ptq %s -h' for its flags.\n", c.name, err, c.name)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "ptq %s: %v\n", c.name, err)
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "ptq %s: %v\n", c.name, err)
		return 1
	}
}

// usage writes the list of commands.
func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: ptq <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", name, commands[name].summary)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'ptq <command> -h' for a command's flags.")
}

// newFlagSet returns a flag set for a subcommand that reports errors
// instead of exiting and prints its usage to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ptq "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ptq %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs and refuses positional arguments. A parse
// error (already printed by fs with its usage) becomes errUsage; -h gives
// flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %s", strings.Join(fs.Args(), " "))
	}
	return nil
}
