package static_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/headers/clocktest"
	"github.com/temporalauth/temporalauth/static"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// replaceFile atomically replaces path by writing a temporary file next to
// it and renaming it over path, as a Vault agent sink does.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := writeFile(t, filepath.Dir(path), ".tmp-"+filepath.Base(path), content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileServesToken(t *testing.T) {
	clock := clocktest.New()
	exp := t0.Add(time.Hour)
	jwt := jwtExpiring(exp)
	path := writeFile(t, t.TempDir(), "token", jwt+"\r\n")
	f, err := static.NewTokenSource(static.Config{TokenFile: path, PollInterval: 30 * time.Second, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	tok, err := f.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value() != jwt {
		t.Errorf("Value is not the trimmed file content (len %d, want %d)", len(tok.Value()), len(jwt))
	}
	if !tok.Expiry.Equal(exp) {
		t.Errorf("Expiry = %v, want %v", tok.Expiry, exp)
	}
	if want := t0.Add(31 * time.Second); !tok.RefreshAt.Equal(want) {
		t.Errorf("RefreshAt = %v, want %v", tok.RefreshAt, want)
	}
}

func TestFileDefaults(t *testing.T) {
	path := writeFile(t, t.TempDir(), "token", "opaque-api-key\n")
	f, err := static.NewTokenSource(static.Config{TokenFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if static.DefaultPollInterval != time.Minute {
		t.Errorf("DefaultPollInterval = %v, want %v", static.DefaultPollInterval, time.Minute)
	}
	before := time.Now()
	tok, err := f.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value() != "opaque-api-key" || !tok.Expiry.IsZero() {
		t.Errorf("Token = %v; want the opaque key, no expiry", tok)
	}
	if tok.RefreshAt.Before(before.Add(time.Minute)) || tok.RefreshAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("RefreshAt = %v, want a minute from now", tok.RefreshAt)
	}
}

func TestFileRereadsReplacedFile(t *testing.T) {
	clock := clocktest.New()
	first, second := jwtExpiring(t0.Add(time.Hour)), jwtExpiring(t0.Add(2*time.Hour))
	path := writeFile(t, t.TempDir(), "token", first)
	f, err := static.NewTokenSource(static.Config{TokenFile: path, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, path, second+"\n")
	tok, err := f.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value() != second || !tok.Expiry.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("after replacement Token = %v, want the second token", tok)
	}
}

// TestFileFollowsSymlinkSwap replaces the token the way the kubelet updates
// a projected volume: the file is a symbolic link through a "..data" link
// that is swapped to a new directory.
func TestFileFollowsSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	mkdata := func(name, token string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), "token", token)
	}
	mkdata("..v1", "first-opaque-token")
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Skipf("symbolic links unavailable: %v", err)
	}
	if err := os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token")); err != nil {
		t.Fatal(err)
	}
	f, err := static.NewTokenSource(static.Config{TokenFile: filepath.Join(dir, "token")})
	if err != nil {
		t.Fatal(err)
	}
	mkdata("..v2", "second-opaque-token")
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
		t.Fatal(err)
	}
	tok, err := f.Token(context.Background())
	if err != nil || tok.Value() != "second-opaque-token" {
		t.Errorf("after the swap Token = %v, %v; want the second token", tok, err)
	}
}

func TestFileRejects(t *testing.T) {
	expired := jwtExpiring(t0.Add(-time.Minute))
	badExp := jwtWithClaims(`{"sub":"x","exp":"never"}`)
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the path
		wantErr error                                 // nil: only check the message
		wantMsg string
		secret  string
	}{
		{
			name:    "missing",
			setup:   func(t *testing.T, dir string) string { return filepath.Join(dir, "absent") },
			wantErr: fs.ErrNotExist,
			wantMsg: "cannot open",
		},
		{
			name: "unreadable",
			setup: func(t *testing.T, dir string) string {
				if os.Geteuid() == 0 {
					t.Skip("root reads any file")
				}
				path := writeFile(t, dir, "token", "unreadable-secret")
				if err := os.Chmod(path, 0); err != nil {
					t.Fatal(err)
				}
				return path
			},
			wantErr: fs.ErrPermission,
			wantMsg: "cannot open",
			secret:  "unreadable-secret",
		},
		{
			name:    "directory",
			setup:   func(t *testing.T, dir string) string { return dir },
			wantMsg: "is a directory",
		},
		{
			name:    "empty",
			setup:   func(t *testing.T, dir string) string { return writeFile(t, dir, "token", "") },
			wantErr: static.ErrEmptyToken,
		},
		{
			name:    "whitespace only",
			setup:   func(t *testing.T, dir string) string { return writeFile(t, dir, "token", " \r\n\r\n") },
			wantErr: static.ErrEmptyToken,
		},
		{
			name: "two lines",
			setup: func(t *testing.T, dir string) string {
				return writeFile(t, dir, "token", "line-one-secret\r\nline-two-secret\r\n")
			},
			wantErr: static.ErrMalformedToken,
			secret:  "line-one-secret",
		},
		{
			name:    "expired JWT",
			setup:   func(t *testing.T, dir string) string { return writeFile(t, dir, "token", expired+"\n") },
			wantErr: static.ErrExpiredToken,
			secret:  expired,
		},
		{
			name:    "JWT with non-numeric exp",
			setup:   func(t *testing.T, dir string) string { return writeFile(t, dir, "token", badExp) },
			wantErr: static.ErrMalformedToken,
			wantMsg: "exp claim is not a number",
			secret:  badExp,
		},
		{
			name: "oversized",
			setup: func(t *testing.T, dir string) string {
				return writeFile(t, dir, "token", strings.Repeat("x", 64<<10+1))
			},
			wantMsg: "larger than 64 KiB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New()
			path := tt.setup(t, t.TempDir())
			f, err := static.NewTokenSource(static.Config{TokenFile: path, Clock: clock})
			if err == nil {
				t.Fatalf("NewTokenSource = %v, want an error", f)
			}
			assertSetting(t, err, "static.Config.TokenFile")
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", path)) {
				t.Errorf("error %q does not name the file", err)
			}
			if strings.Count(err.Error(), path) != 1 {
				t.Errorf("error %q names the file more than once", err)
			}
			assertNoSecret(t, "error", err.Error(), tt.secret)
			assertNoSecret(t, "error", err.Error(), "secret")
		})
	}
}

func TestNewFileRejectsOptions(t *testing.T) {
	_, err := static.NewTokenSource(static.Config{TokenFile: "", PollInterval: time.Second})
	if err == nil || !strings.Contains(err.Error(), "no token") {
		t.Errorf("empty path: error %v", err)
	}
	assertSetting(t, err, "static.Config.Token")
	path := writeFile(t, t.TempDir(), "token", "opaque")
	_, err = static.NewTokenSource(static.Config{TokenFile: path, PollInterval: -time.Second})
	if err == nil || err.Error() != "static.Config.PollInterval: -1s is negative" {
		t.Errorf("negative poll interval: error %v", err)
	}
	assertSetting(t, err, "static.Config.PollInterval")
	// 30 meant as seconds is 30 ns: the file would be read on every call.
	for _, d := range []time.Duration{30, time.Millisecond, static.MinPollInterval - 1} {
		_, err = static.NewTokenSource(static.Config{TokenFile: path, PollInterval: d})
		if err == nil || !strings.Contains(err.Error(), "below the minimum of 1s") || !strings.Contains(err.Error(), "time.Second") {
			t.Errorf("poll interval %v: error %v", d, err)
		}
		assertSetting(t, err, "static.Config.PollInterval")
	}
	if _, err := static.NewTokenSource(static.Config{TokenFile: path, PollInterval: static.MinPollInterval}); err != nil {
		t.Errorf("poll interval MinPollInterval: %v", err)
	}
	_, err = static.NewTokenSource(static.Config{Token: "opaque", PollInterval: time.Second})
	if err == nil || err.Error() != "static.Config.PollInterval: only used with static.Config.TokenFile: a fixed token is never read again" {
		t.Errorf("poll interval with a fixed token: error %v", err)
	}
	assertSetting(t, err, "static.Config.PollInterval")
}

// TestFileErrorsLater covers a file that goes bad after start-up: the
// error names the file and the next good content is served again.
func TestFileErrorsLater(t *testing.T) {
	clock := clocktest.New()
	path := writeFile(t, t.TempDir(), "token", jwtExpiring(t0.Add(time.Hour)))
	f, err := static.NewTokenSource(static.Config{TokenFile: path, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if _, err := f.Token(context.Background()); !errors.Is(err, static.ErrExpiredToken) || !strings.Contains(err.Error(), path) {
		t.Errorf("once expired: error %v, want ErrExpiredToken naming the file", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Token(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("once removed: error %v, want fs.ErrNotExist", err)
	}
	fresh := jwtExpiring(t0.Add(3 * time.Hour))
	replaceFile(t, path, fresh)
	if tok, err := f.Token(context.Background()); err != nil || tok.Value() != fresh {
		t.Errorf("once rewritten: Token = %v, %v", tok, err)
	}
}

func TestFileHonoursContext(t *testing.T) {
	path := writeFile(t, t.TempDir(), "token", "opaque")
	f, err := static.NewTokenSource(static.Config{TokenFile: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Token(ctx); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want context.Canceled naming the file", err)
	}
}

func TestFileString(t *testing.T) {
	path := writeFile(t, t.TempDir(), "token", "opaque-secret-value")
	f, err := static.NewTokenSource(static.Config{TokenFile: path, PollInterval: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	holder := struct{ src *static.Source }{f}
	valueHolder := struct{ src static.Source }{*f}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for name, v := range map[string]any{"pointer": f, "value": *f, "holder": holder, "value holder": valueHolder} {
			out := fmt.Sprintf(format, v)
			if (name == "pointer" || name == "value") && !strings.Contains(out, path) {
				t.Errorf("%s of %s = %q, want the path", format, name, out)
			}
			assertNoSecret(t, format+" of "+name, out, "opaque-secret-value")
		}
	}
	if want := fmt.Sprintf("token file %q (poll 1m30s)", path); fmt.Sprint(f) != want {
		t.Errorf("String = %q, want %q", fmt.Sprint(f), want)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("source", "src", f)
	if want := "src.file=" + path + " src.poll=1m30s\n"; !strings.HasSuffix(logged.String(), want) {
		t.Errorf("slog output %q, want it to end with %q", logged.String(), want)
	}
	assertNoSecret(t, "slog", logged.String(), "opaque-secret-value")
}

// TestFileProviderServesReplacedToken replaces the file and checks that the
// provider serves the new token once the poll interval has passed.
func TestFileProviderServesReplacedToken(t *testing.T) {
	clock := clocktest.New()
	first, second := jwtExpiring(t0.Add(time.Hour)), jwtExpiring(t0.Add(2*time.Hour))
	path := writeFile(t, t.TempDir(), "token", first+"\n")
	p, err := static.NewProvider(static.Config{TokenFile: path, PollInterval: time.Minute}, headers.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, want := p.String(), "headers.Provider{source: token file "+path+"}"; got != want {
		t.Errorf("provider named %q, want %q", got, want)
	}
	ctx := context.Background()
	h, err := p.GetHeaders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h["authorization"] != "Bearer "+first {
		t.Fatal("first call does not serve the file's token")
	}
	replaceFile(t, path, second+"\n")
	clock.Advance(time.Minute + time.Second)
	// The refresh after the poll interval may run in the background: poll
	// until it lands, in real time, bounded.
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, err = p.GetHeaders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h["authorization"] == "Bearer "+second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replaced token is not served after the poll interval")
		}
		time.Sleep(time.Millisecond)
	}
	tok, err := p.Token(ctx)
	if err != nil || !tok.Expiry.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("Token = %v, %v; want the second token's expiry", tok, err)
	}
}

func TestNewFileProviderRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "absent")
	p, err := static.NewProvider(static.Config{TokenFile: path}, headers.Options{})
	if err == nil {
		p.Close()
		t.Fatal("NewProvider accepted a missing file")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q: want fs.ErrNotExist naming the file", err)
	}
	assertSetting(t, err, "static.Config.TokenFile")
	envCfg, err := static.ConfigFromLookup(fromEnv(map[string]string{static.EnvTokenFile: path}))
	if err != nil {
		t.Fatalf("ConfigFromLookup read the token file: %v", err)
	}
	_, err = static.NewProvider(envCfg, headers.Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q: want fs.ErrNotExist naming the file", err)
	}
	assertSetting(t, err, static.EnvTokenFile)
	clock := clocktest.New()
	path = writeFile(t, dir, "token", jwtExpiring(t0.Add(-time.Second)))
	if _, err := static.NewProvider(static.Config{TokenFile: path}, headers.Options{Clock: clock}); !errors.Is(err, static.ErrExpiredToken) {
		t.Errorf("expired by the provider's clock: error %v, want ErrExpiredToken", err)
	}
}
