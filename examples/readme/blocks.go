package readme

import (
	"bufio"
	"regexp"
	"strings"
)

// A Block is a fenced code block of a markdown file.
type Block struct {
	File    string // the file's name, for messages
	Line    int    // the line of the opening fence, from 1
	Lang    string // the first word of the info string, lowercased
	Section string // the nearest heading above it
	Text    string // the content, each line ending in a newline
	// Skip is the reason given by a skip directive, an HTML comment
	// "<!-- readme-test: skip: REASON -->" on the line before the fence,
	// which readers of the rendered page do not see; "" if none.
	Skip string
}

// skipDirective is the HTML comment, on the line before a block's fence,
// that keeps the block from being run.
var skipDirective = regexp.MustCompile(`^<!--\s*readme-test:\s*skip:\s*(.*?)\s*-->$`)

// Kind classifies a block: "skip" for a block under a skip directive,
// "run" for another sh block, "env" for an sh block of only NAME=value lines
// and comments, "data" for any other block.
func (b Block) Kind() string {
	switch {
	case b.Skip != "":
		return "skip"
	case b.Lang != "sh":
		return "data"
	case len(b.EnvNames()) > 0:
		return "env"
	}
	return "run"
}

// assignment matches NAME=value, the value possibly a <placeholder> with
// spaces, and an optional comment.
var assignment = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(<[^>]*>|[^\s<])*(\s+#.*)?$`)

// EnvNames returns the names a block of only assignments and comments
// assigns, or nil when it holds anything else.
func (b Block) EnvNames() []string {
	var names []string
	for _, line := range strings.Split(strings.TrimRight(b.Text, "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := assignment.FindStringSubmatch(line)
		if m == nil {
			return nil
		}
		names = append(names, m[1])
	}
	return names
}

// Parse returns the fenced code blocks of a markdown document: fences of
// three or more backticks or tildes, closed by a fence of the same
// character at least as long.
func Parse(file, doc string) []Block {
	var (
		blocks  []Block
		cur     *Block
		fence   string
		section string
		prev    string // the line before, trimmed
		body    strings.Builder
	)
	sc := bufio.NewScanner(strings.NewReader(doc))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			before := prev
			prev = strings.TrimSpace(line)
			if strings.HasPrefix(trimmed, "#") {
				section = strings.TrimSpace(strings.TrimLeft(trimmed, "#"))
				continue
			}
			if f := fenceOf(trimmed); f != "" && len(line)-len(trimmed) < 4 {
				info := strings.TrimSpace(trimmed[len(f):])
				lang, _, _ := strings.Cut(info, " ")
				cur, fence = &Block{File: file, Line: n, Lang: strings.ToLower(lang), Section: section}, f
				if m := skipDirective.FindStringSubmatch(before); m != nil {
					cur.Skip = m[1]
					if cur.Skip == "" {
						cur.Skip = "(no reason given)"
					}
				}
				body.Reset()
			}
			continue
		}
		if f := fenceOf(trimmed); f != "" && f[0] == fence[0] && len(f) >= len(fence) && strings.TrimSpace(trimmed[len(f):]) == "" {
			cur.Text = body.String()
			blocks = append(blocks, *cur)
			cur, prev = nil, ""
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	return blocks
}

// fenceOf returns the run of ``` or ~~~ (three or more) that starts s, or "".
func fenceOf(s string) string {
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(s) && s[n] == c {
			n++
		}
		if n >= 3 {
			return s[:n]
		}
	}
	return ""
}
