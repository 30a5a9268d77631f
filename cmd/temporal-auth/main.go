// Command temporal-auth makes and checks the credentials of a Temporal
// server that enforces JWT authorization.
//
// Usage:
//
//	temporal-auth keygen [--rsa [--bits BITS]] [--out FILE] [--pub FILE] [--force]
//	temporal-auth jwks KEYFILE|DIR...
//	temporal-auth serve-jwks [--addr HOST:PORT] KEYFILE|DIR...
//	temporal-auth token [--provider jwt|azure|oidc|static] [--key FILE] [--permissions NS:ROLE,...] [--ttl DURATION] [--subject SUB] [--issuer ISS] [--audience AUD,...] [--claim-name NAME] [--scope SCOPE,...] [--timeout DURATION] [--export [--tls=false]]
//	temporal-auth inspect [--jwks URL|FILE] [--claim-name NAME] [--audience AUD] [--issuer ISS] [--entra-tenant TENANT] [--need NS:ROLE] [--show-token] [--timeout DURATION] [TOKEN|-|@FILE]
//	temporal-auth check-server (--config FILE | --env) [--strict]
//	temporal-auth version
//
// keygen writes a new ES256 (or RS256) private key, mode 0600, and prints
// its kid. jwks prints the JSON Web Key Set of key files; serve-jwks serves
// it over HTTP for the server's jwtKeyProvider.keySourceURIs, re-reading
// the files on each request so that keys can be rotated in place. token
// mints a token from flags or the environment variables of the
// temporalauth package and prints it (only it) on standard output. inspect
// explains, line by line, what the server's default claim mapper and
// default authorizer will decide about a token. check-server lints a
// server's authorization configuration (its YAML file, or the Docker
// image's environment variables) and names each finding's risk and fix.
//
// Every subcommand takes --help. Exit status: 0 success (inspect: the token
// would be accepted; check-server: no critical finding), 1 failure
// (inspect: the token would be rejected; check-server: a critical finding,
// or with --strict a warning), 2 usage error.
//
// Install it from a checkout of the repository, at its root:
//
//	go install ./cmd/temporal-auth
//
// (into $(go env GOPATH)/bin, or $GOBIN), or once the module is published:
//
//	go install github.com/temporalauth/temporalauth/cmd/temporal-auth@latest
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns the
// exit status. env looks up environment variables.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	return runContext(context.Background(), args, stdin, stdout, stderr, env)
}

// A cli is one invocation: its streams and environment.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	env    func(string) (string, bool)
}

// A command is a subcommand.
type command struct {
	name     string
	synopsis string
	// args describes the positional arguments for the usage line.
	args string
	// about is printed under the usage line.
	about string
	// flags declares the flags on fs and returns the function that runs
	// the command with the positional arguments once they are parsed.
	flags func(c *cli, fs *flagSet) func(ctx context.Context, args []string) error
}

func commands() []*command {
	return []*command{keygenCommand, jwksCommand, serveJWKSCommand, tokenCommand, inspectCommand, checkServerCommand, versionCommand}
}

// A usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errRejected is inspect's verdict REJECTED: exit status 1, the report
// already says why.
var errRejected = errors.New("token rejected")

func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, env: env}
	if len(args) == 0 {
		writeUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if cmd := lookup(args[1]); cmd != nil {
				fs := cmd.flagSet(c)
				cmd.writeUsage(stdout, fs)
				return exitOK
			}
			fmt.Fprintf(stderr, "temporal-auth: unknown command %q\n", args[1])
			writeUsage(stderr)
			return exitUsage
		}
		writeUsage(stdout)
		return exitOK
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "temporal-auth: unknown command %q\n", name)
		writeUsage(stderr)
		return exitUsage
	}
	return cmd.run(ctx, c, args[1:])
}

func lookup(name string) *command {
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

// flagSet returns the command's flags without their action.
func (cmd *command) flagSet(c *cli) *flagSet {
	fs := newFlagSet(cmd.name)
	cmd.flags(c, fs)
	return fs
}

// The errors of temporal-auth follow one wrapping rule: each layer adds
// only what its reader does not know yet, so that an error says each thing
// once.
//
//   - command.run adds "temporal-auth <command>: ", once. Nothing below it
//     names the program or the command.
//   - The layer that knows what the user typed names it, once and as typed:
//     a flag as "--name VALUE" (flagSet does this for a bad flag value), a
//     variable by its name, a file by its flag or role and its path. A
//     layer that gets an error naming it already returns it unchanged.
//   - Where the command names the thing itself, it leaves out what the
//     libraries' errors repeat ("temporalauth: jwt provider ...",
//     "jwtkey: parse public key: ", the path of an *fs.PathError, "listen
//     tcp ADDR: ") by taking the cause from the typed error
//     (*headers.ConfigError, *secretfile.Error, *net.OpError, ...), never
//     by cutting text. The one exception is flagNames, which rewrites the
//     variables a flag replaced inside a library's message.
//   - Then the cause, and after "; " the fix when the reader can act on it:
//     "--key key.pem: cannot open: permission denied; run as the file's
//     owner or give the process read access (...)".
//   - One line. A usage error is followed by the usage line.

// run parses args and runs the command, mapping errors to exit statuses.
func (cmd *command) run(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet(cmd.name)
	action := cmd.flags(c, fs)
	pos, err := fs.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		cmd.writeUsage(c.stdout, fs)
		return exitOK
	}
	if err == nil {
		err = action(ctx, pos)
	}
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errRejected), errors.Is(err, errCritical):
		return exitFailure
	case errors.As(err, &usage), isFlagError(err):
		fmt.Fprintf(c.stderr, "temporal-auth %s: %v\n", cmd.name, err)
		fmt.Fprintf(c.stderr, "Usage: temporal-auth %s %s\nRun 'temporal-auth %s --help' for details.\n", cmd.name, cmd.args, cmd.name)
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "temporal-auth %s: %v\n", cmd.name, err)
		return exitFailure
	}
}

// flagError marks errors of flag parsing.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

func isFlagError(err error) bool {
	var fe *flagError
	return errors.As(err, &fe)
}

// parseInterspersed parses flags anywhere among the positional arguments,
// up to a "--", and returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &flagError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse consumed a "--" if rest follows one.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (cmd *command) writeUsage(w io.Writer, fs *flagSet) {
	fmt.Fprintf(w, "Usage: temporal-auth %s %s\n\n%s\n", cmd.name, cmd.args, strings.TrimSpace(cmd.about))
	if fs.hasFlags() {
		fmt.Fprintf(w, "\nFlags:\n")
		fs.writeHelp(w)
	}
}

func writeUsage(w io.Writer) {
	fmt.Fprintf(w, "temporal-auth makes and checks credentials for a Temporal server with JWT authorization.\n\nUsage: temporal-auth <command> [flags] [arguments]\n\nCommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", cmd.name, cmd.synopsis)
	}
	fmt.Fprintf(w, "\nRun 'temporal-auth <command> --help' for a command's flags.\nExit status: 0 success, 1 failure (inspect: token rejected; check-server: critical finding), 2 usage error.\n")
}

var versionCommand = &command{
	name:     "version",
	synopsis: "print the version of temporal-auth",
	about:    "Prints the module version temporal-auth was built from.",
	flags: func(c *cli, fs *flagSet) func(context.Context, []string) error {
		return func(_ context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q", args[0])
			}
			version := "(devel)"
			if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
				version = info.Main.Version
			}
			_, err := fmt.Fprintf(c.stdout, "temporal-auth %s\n", version)
			return err
		}
	},
}
