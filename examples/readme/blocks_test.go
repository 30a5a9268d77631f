package readme

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	doc := "# Title\n\n## Section A\n\n```sh\necho a\n```\n\n```yaml\nk: v\n```\n\n" +
		"<!-- readme-test: skip: needs a cloud -->\n````sh\nfoo\n````\n\n## B\n\n~~~sh\nA=1  # note\n# comment\nB_2=<some id>\n~~~\n\n" +
		"```sh\nA=1\necho no\n```\n\n    ```sh\n    indented code, not a fence\n"
	blocks := Parse("x.md", doc)
	var got []string
	for _, b := range blocks {
		got = append(got, b.Section+"|"+b.Lang+"|"+b.Kind())
	}
	want := []string{"Section A|sh|run", "Section A|yaml|data", "Section A|sh|skip", "B|sh|env", "B|sh|run"}
	if !slices.Equal(got, want) {
		t.Errorf("blocks %q, want %q", got, want)
	}
	if blocks[0].Text != "echo a\n" || blocks[0].Line != 5 {
		t.Errorf("first block %q at line %d", blocks[0].Text, blocks[0].Line)
	}
	if r := blocks[2].Skip; r != "needs a cloud" {
		t.Errorf("skip reason %q", r)
	}
	if n := blocks[3].EnvNames(); !slices.Equal(n, []string{"A", "B_2"}) {
		t.Errorf("env names %q", n)
	}
}

// TestSkipMarkersAreDirectives: a block is kept from running only by the
// HTML comment before it; the comment line that used to do it, inside the
// block, would now be shown to readers and the block run.
func TestSkipMarkersAreDirectives(t *testing.T) {
	for _, name := range []string{"README.md", "TROUBLESHOOTING.md"} {
		data, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range Parse(name, string(data)) {
			if strings.Contains(b.Text, "not run by the README test") {
				t.Errorf("%s:%d (%s): put <!-- readme-test: skip: REASON --> on the line before the fence instead of a comment inside the block",
					b.File, b.Line, b.Section)
			}
		}
	}
}
