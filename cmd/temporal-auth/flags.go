package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// A flagSet declares a subcommand's flags. Every subcommand uses it, so
// that all follow one convention: flags are written --name, a flag that
// takes a value names it with a placeholder (--audience AUD, --ttl
// DURATION), every duration flag parses and explains the same forms, and
// a bad value is reported as "--name VALUE: what is wrong; the fix".
type flagSet struct {
	fs    *flag.FlagSet
	specs map[string]flagSpec
	bad   error // the first bad value of the last parse; nil if none
}

// flagSpec is what the help shows of one flag beside its usage text.
type flagSpec struct {
	placeholder string // "" for a boolean flag
	def         string // the default shown; "" for none
}

func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet("temporal-auth "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{fs: fs, specs: map[string]flagSpec{}}
}

// A badValueError is a flag given a value it cannot take.
type badValueError struct {
	name, value string
	isBool      bool // written --name=value
	err         error
}

func (e *badValueError) Error() string {
	sep := " "
	if e.isBool {
		sep = "="
	}
	return fmt.Sprintf("--%s%s%s: %v", e.name, sep, quoteIfNeeded(e.value), e.err)
}

func (e *badValueError) Unwrap() error { return e.err }

// quoteIfNeeded quotes v when it is empty or holds a space or a quote, so
// that the value reads as typed.
func quoteIfNeeded(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\n\"'") {
		return strconv.Quote(v)
	}
	return v
}

// value wraps a flag.Value so that a bad value is kept with its flag's name
// for the error: the flag package would report it as
// `invalid value "x" for flag -name: ...`.
type value struct {
	flag.Value
	name string
	set  *flagSet
}

func (v value) Set(s string) error {
	err := v.Value.Set(s)
	if err != nil && v.set.bad == nil {
		v.set.bad = &badValueError{name: v.name, value: s, isBool: v.IsBoolFlag(), err: err}
	}
	return err
}

// IsBoolFlag tells the flag package that --name alone sets a boolean.
func (v value) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Var declares a flag of any type. placeholder names its value in the help
// ("" for a boolean flag); def is the default shown ("" for none).
func (f *flagSet) Var(v flag.Value, name, placeholder, def, usage string) {
	f.specs[name] = flagSpec{placeholder: placeholder, def: def}
	f.fs.Var(value{Value: v, name: name, set: f}, name, usage)
}

// Func declares a flag whose values set calls.
func (f *flagSet) Func(name, placeholder, usage string, set func(string) error) {
	f.Var(funcValue(set), name, placeholder, "", usage)
}

// String declares a string flag.
func (f *flagSet) String(name, placeholder, def, usage string) *string {
	p := new(string)
	*p = def
	f.Var((*stringValue)(p), name, placeholder, def, usage)
	return p
}

// Bool declares a boolean flag: --name sets it, --name=false clears it.
func (f *flagSet) Bool(name string, def bool, usage string) *bool {
	p := new(bool)
	*p = def
	shown := ""
	if def {
		shown = "true"
	}
	f.Var((*boolValue)(p), name, "", shown, usage)
	return p
}

// Int declares an integer flag.
func (f *flagSet) Int(name, placeholder string, def int, usage string) *int {
	p := new(int)
	*p = def
	f.Var((*intValue)(p), name, placeholder, strconv.Itoa(def), usage)
	return p
}

// Duration declares a duration flag with placeholder DURATION: a Go
// duration of at least min (see parseDuration). def is the value when the
// flag is not given; zero shows no default.
func (f *flagSet) Duration(name string, def, min time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	*p = def
	shown := ""
	if def != 0 {
		shown = def.String()
	}
	f.Var(&durationValue{d: p, min: min}, name, "DURATION", shown, usage)
	return p
}

// isSet reports whether the last parse set the flag.
func (f *flagSet) isSet(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// parse parses args as parseInterspersed does, reporting a bad value as a
// *badValueError.
func (f *flagSet) parse(args []string) ([]string, error) {
	f.bad = nil
	pos, err := parseInterspersed(f.fs, args)
	if err != nil && f.bad != nil {
		return nil, &flagError{f.bad}
	}
	return pos, err
}

// hasFlags reports whether any flag is declared.
func (f *flagSet) hasFlags() bool { return len(f.specs) > 0 }

// synopsis returns the flag as the usage line writes it: --name PLACEHOLDER,
// or --name for a boolean flag (--name=false for one that defaults to true).
func (f *flagSet) synopsis(name string) string {
	s := f.specs[name]
	switch {
	case s.placeholder != "":
		return "--" + name + " " + s.placeholder
	case s.def == "true":
		return "--" + name + "=false"
	}
	return "--" + name
}

// writeHelp lists the flags in name order: each as the synopsis writes it,
// then its usage and default, indented.
func (f *flagSet) writeHelp(w io.Writer) {
	f.fs.VisitAll(func(fl *flag.Flag) {
		fmt.Fprintf(w, "  %s\n    \t%s", f.synopsis(fl.Name), strings.ReplaceAll(fl.Usage, "\n", "\n    \t"))
		if s := f.specs[fl.Name]; s.def != "" && s.placeholder != "" { // a boolean's shows in its synopsis
			fmt.Fprintf(w, " (default %s)", s.def)
		}
		fmt.Fprintln(w)
	})
}

type funcValue func(string) error

func (v funcValue) Set(s string) error { return v(s) }
func (v funcValue) String() string     { return "" }

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string {
	if v == nil {
		return ""
	}
	return string(*v)
}

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = boolValue(b)
	return nil
}

func (v *boolValue) String() string   { return strconv.FormatBool(v != nil && bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a whole number")
	}
	*v = intValue(n)
	return nil
}

func (v *intValue) String() string {
	if v == nil {
		return "0"
	}
	return strconv.Itoa(int(*v))
}

// durationValue is the value of every duration flag.
type durationValue struct {
	d   *time.Duration
	min time.Duration
}

func (v *durationValue) Set(s string) error {
	d, err := parseDuration(s, v.min)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v *durationValue) String() string {
	if v == nil || v.d == nil {
		return ""
	}
	return v.d.String()
}

// parseDuration parses the value of a duration flag: a Go duration with its
// unit (90s, 10m, 1h30m) of at least min. A bare number is refused with
// the two readings it most likely meant.
func parseDuration(s string, min time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return 0, fmt.Errorf("a duration needs a unit: did you mean %ss or %sm?", s, s)
		}
		return 0, errors.New("not a duration; write a number with its unit, such as 90s, 10m or 1h30m")
	}
	if d < min {
		return 0, fmt.Errorf("must be at least %s", min)
	}
	return d, nil
}
