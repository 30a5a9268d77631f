package main

import (
	"flag"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
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
		addr := fs.String("addr", "ADDR", "", "")
		loud := fs.Bool("loud", false, "")
		pos, err := fs.parse(tt.args)
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
	if _, err := fs.parse([]string{"a", "--help"}); err != flag.ErrHelp {
		t.Errorf("--help: %v", err)
	}
}

// synopsisLines returns the "temporal-auth ..." lines of the Usage block of
// main.go's doc comment.
func synopsisLines(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(f.Doc.Text(), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "temporal-auth ") {
			lines = append(lines, line)
		}
	}
	return lines
}

var synopsisFlag = regexp.MustCompile(`--([a-z][a-z-]*)`)

// The synopsis in main.go's doc comment is each subcommand's usage line,
// and each usage line names every flag its subcommand defines, as the help
// writes it (--name PLACEHOLDER), and no other.
func TestSynopsisListsEveryFlag(t *testing.T) {
	doc := synopsisLines(t)
	if len(doc) != len(commands()) {
		t.Errorf("main.go's synopsis has %d lines, want one per command (%d):\n%s", len(doc), len(commands()), strings.Join(doc, "\n"))
	}
	for i, cmd := range commands() {
		usage := strings.TrimSpace("temporal-auth " + cmd.name + " " + cmd.args)
		if i < len(doc) && doc[i] != usage {
			t.Errorf("main.go's synopsis line %d:\n  %s\nthe command's usage line:\n  %s", i+1, doc[i], usage)
		}
		fs := cmd.flagSet(&cli{})
		var defined []string
		fs.fs.VisitAll(func(f *flag.Flag) {
			defined = append(defined, f.Name)
			if !containsWord(cmd.args, fs.synopsis(f.Name)) {
				t.Errorf("%s: the usage line lacks %s:\n  %s", cmd.name, fs.synopsis(f.Name), usage)
			}
		})
		var listed []string
		for _, m := range synopsisFlag.FindAllStringSubmatch(cmd.args, -1) {
			if !slices.Contains(listed, m[1]) {
				listed = append(listed, m[1])
			}
		}
		slices.Sort(listed)
		if !slices.Equal(listed, defined) {
			t.Errorf("%s: the usage line lists flags %q, the command defines %q", cmd.name, listed, defined)
		}
	}
}

// containsWord reports whether s holds w between delimiters of a synopsis.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		if (start == 0 || strings.ContainsRune(" [(", rune(s[start-1]))) &&
			(end == len(s) || strings.ContainsRune(" ])", rune(s[end]))) {
			return true
		}
		i = end
	}
}

// Every flag of every subcommand is declared through flagSet, so the help
// writes it --name with a placeholder (never Go's "-name value"), and
// every duration flag parses and explains the same forms.
func TestFlagHelpConvention(t *testing.T) {
	for _, cmd := range commands() {
		fs := cmd.flagSet(&cli{})
		var help strings.Builder
		fs.writeHelp(&help)
		fs.fs.VisitAll(func(f *flag.Flag) {
			v, ok := f.Value.(value)
			if !ok {
				t.Errorf("%s --%s is a %T, not declared through flagSet", cmd.name, f.Name, f.Value)
				return
			}
			spec := fs.specs[f.Name]
			if (spec.placeholder == "") != v.IsBoolFlag() {
				t.Errorf("%s --%s: placeholder %q for a %T", cmd.name, f.Name, spec.placeholder, v.Value)
			}
			if _, isDuration := v.Value.(*durationValue); isDuration != (spec.placeholder == "DURATION") {
				t.Errorf("%s --%s: placeholder %q for a %T", cmd.name, f.Name, spec.placeholder, v.Value)
			}
			if !strings.Contains(help.String(), "\n  "+fs.synopsis(f.Name)+"\n") && !strings.HasPrefix(help.String(), "  "+fs.synopsis(f.Name)+"\n") {
				t.Errorf("%s --help lacks the line %q:\n%s", cmd.name, fs.synopsis(f.Name), help.String())
			}
		})
		for _, line := range strings.Split(help.String(), "\n") {
			if strings.HasPrefix(line, "  -") && !strings.HasPrefix(line, "  --") || strings.HasSuffix(line, " value") {
				t.Errorf("%s --help: %q", cmd.name, line)
			}
		}
	}
}

// Every duration flag answers a bare number the same way.
func TestDurationFlagsAgree(t *testing.T) {
	n := 0
	for _, cmd := range commands() {
		fs := cmd.flagSet(&cli{})
		fs.fs.VisitAll(func(f *flag.Flag) {
			if fs.specs[f.Name].placeholder != "DURATION" {
				return
			}
			n++
			for arg, want := range map[string]string{
				"10":      "--" + f.Name + " 10: a duration needs a unit: did you mean 10s or 10m?",
				"an hour": "--" + f.Name + ` "an hour": not a duration; write a number with its unit, such as 90s, 10m or 1h30m`,
				"-5m":     "--" + f.Name + " -5m: must be at least ",
			} {
				r := runCLI(t, nil, "", cmd.name, "--"+f.Name, arg)
				r.want(t, exitUsage)
				if !strings.HasPrefix(r.stderr, "temporal-auth "+cmd.name+": "+want) {
					t.Errorf("%s --%s %s: stderr %q, want %q", cmd.name, f.Name, arg, r.stderr, want)
				}
			}
		})
	}
	if n < 3 { // token --ttl and --timeout, inspect --timeout
		t.Errorf("%d duration flags, want at least 3", n)
	}
}

// The README's table of commands shows each command's usage line.
func TestReadmeTableShowsUsage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if cell, ok := strings.CutPrefix(line, "| `"); ok {
			if usage, _, ok := strings.Cut(cell, "` |"); ok {
				name, _, _ := strings.Cut(usage, " ")
				rows[name] = strings.ReplaceAll(usage, `\|`, "|")
			}
		}
	}
	for _, cmd := range commands() {
		if cmd.name == "version" {
			continue
		}
		if want := strings.TrimSpace(cmd.name + " " + cmd.args); rows[cmd.name] != want {
			t.Errorf("README.md's row for %s:\n  %s\nthe command's usage line:\n  %s", cmd.name, rows[cmd.name], want)
		}
	}
}
