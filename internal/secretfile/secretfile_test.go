package secretfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/temporalauth/temporalauth/internal/secretfile"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "token")
	if err := os.WriteFile(small, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := secretfile.Read("token file", small, 3); err != nil || string(b) != "abc" {
		t.Fatalf("Read = %q, %v", b, err)
	}
	_, err := secretfile.Read("token file", small, 2)
	if err == nil || !strings.Contains(err.Error(), `token file "`+small+`": larger than 2 bytes: not a token file`) {
		t.Errorf("oversize: err = %v", err)
	}
	if strings.Contains(err.Error(), "abc") {
		t.Errorf("the error shows the content: %v", err)
	}
	missing := filepath.Join(dir, "missing")
	_, err = secretfile.Read("key file", missing, 10)
	var fe *secretfile.Error
	if !errors.As(err, &fe) || !errors.Is(err, fs.ErrNotExist) || strings.Count(err.Error(), missing) != 1 {
		t.Errorf("missing: err = %v; want an *Error naming the file once and matching fs.ErrNotExist", err)
	}
}
