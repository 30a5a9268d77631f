package main

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	r := runCLI(t, nil, "")
	r.want(t, exitUsage)
	if r.stdout != "" || !strings.Contains(r.stderr, "Commands:") {
		t.Errorf("no arguments: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := runCLI(t, nil, "", args...)
		r.want(t, exitOK)
		for _, cmd := range commands() {
			if !strings.Contains(r.stdout, "  "+cmd.name+" ") {
				t.Errorf("%q: usage lacks %s:\n%s", args, cmd.name, r.stdout)
			}
		}
		if r.stderr != "" {
			t.Errorf("%q: stderr %q", args, r.stderr)
		}
	}
	r = runCLI(t, nil, "", "frobnicate")
	r.want(t, exitUsage)
	if !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("stderr %q", r.stderr)
	}
	r = runCLI(t, nil, "", "help", "frobnicate")
	r.want(t, exitUsage)
}

// Every subcommand prints its usage to stdout and exits 0 on --help, and
// exits 2 on an unknown flag.
func TestSubcommandHelpAndUnknownFlag(t *testing.T) {
	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			for _, args := range [][]string{{cmd.name, "--help"}, {cmd.name, "-h"}, {"help", cmd.name}} {
				r := runCLI(t, nil, "", args...)
				r.want(t, exitOK)
				if !strings.HasPrefix(r.stdout, "Usage: temporal-auth "+cmd.name) || r.stderr != "" {
					t.Errorf("%q: stdout %q, stderr %q", args, r.stdout, r.stderr)
				}
			}
			r := runCLI(t, nil, "", cmd.name, "--no-such-flag")
			r.want(t, exitUsage)
			if !strings.Contains(r.stderr, "flag provided but not defined: -no-such-flag") ||
				!strings.Contains(r.stderr, "temporal-auth "+cmd.name+" --help") || r.stdout != "" {
				t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
			}
		})
	}
}

func TestHelpListsFlags(t *testing.T) {
	r := runCLI(t, nil, "", "token", "--help")
	for _, f := range []string{"-provider", "-key", "-permissions", "-ttl", "-subject", "-issuer", "-audience", "-claim-name", "-export", "TEMPORAL_JWT_PRIVATE_KEY_FILE"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("token --help lacks %s", f)
		}
	}
	r = runCLI(t, nil, "", "inspect", "--help")
	for _, f := range []string{"-jwks", "-claim-name", "-show-token", "-need", "-audience", "Bearer"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("inspect --help lacks %s", f)
		}
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, nil, "", "version")
	r.want(t, exitOK)
	if !strings.HasPrefix(r.stdout, "temporal-auth ") {
		t.Errorf("stdout %q", r.stdout)
	}
	runCLI(t, nil, "", "version", "extra").want(t, exitUsage)
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args     []string
		pos      []string
		addr     string
		loud     bool
		parseErr bool
	}{
		{args: []string{"a", "b"}, pos: []string{"a", "b"}},
		{args: []string{"a", "--addr", "x", "b"}, pos: []string{"a", "b"}, addr: "x"},
		{args: []string{"--loud", "a", "--addr=y"}, pos: []string{"a"}, addr: "y", loud: true},
		{args: []string{"a", "--", "--addr", "-"}, pos: []string{"a", "--addr", "-"}},
		{args: []string{"-", "--loud"}, pos: []string{"-"}, loud: true},
		{args: []string{"a", "--bad"}, parseErr: true},
	}
	for _, tt := range tests {
		fs := newFlagSet("test")
		addr := fs.String("addr", "", "")
		loud := fs.Bool("loud", false, "")
		pos, err := parseInterspersed(fs, tt.args)
		if tt.parseErr {
			if err == nil || !isFlagError(err) {
				t.Errorf("%q: err %v, want a flag error", tt.args, err)
			}
			continue
		}
		if err != nil || !slices.Equal(pos, tt.pos) || *addr != tt.addr || *loud != tt.loud {
			t.Errorf("%q: pos %q addr %q loud %t err %v", tt.args, pos, *addr, *loud, err)
		}
	}
	fs := newFlagSet("test")
	if _, err := parseInterspersed(fs, []string{"a", "--help"}); err != flag.ErrHelp {
		t.Errorf("--help: %v", err)
	}
}
