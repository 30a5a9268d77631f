package main

import (
	"os"
	"strings"
	"testing"
)

// TestDocCommentUsage checks that the package comment's usage lines are
// those --help prints, so that go doc shows every provider and default.
func TestDocCommentUsage(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src[:strings.Index(string(src), "\npackage main")])
	for _, cmd := range commands() {
		want := strings.TrimSpace("//\ttemporal-auth " + cmd.name + " " + cmd.args)
		if !strings.Contains(doc+"\n", want+"\n") {
			t.Errorf("the package comment lacks the usage line\n%s", want)
		}
	}
}
