// Package readme tests the command blocks of the repository's README.md and
// TROUBLESHOOTING.md: every sh block runs, as written, in one shell session
// against a real Temporal server binary. README.md's "Command blocks"
// section documents the rules.
package readme
