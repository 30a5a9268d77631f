package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/temporalauth/temporalauth/jwtkey"
)

// maxKeyFile bounds how much of a key file is read.
const maxKeyFile = 1 << 20

// A keyFile is the content of one PEM file named on the command line or
// found in a directory named there.
type keyFile struct {
	path string
	data []byte
}

// readKeyFiles reads the files of paths: each path is a PEM file, or a
// directory whose *.pem files (not hidden ones, such as the temporary
// files of an atomic replacement) are read, in name order.
func readKeyFiles(paths []string) ([]keyFile, error) {
	var files []keyFile
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("key file %q: %w", p, unwrapPathError(err))
		}
		if !fi.IsDir() {
			data, err := readLimited(p)
			if err != nil {
				return nil, err
			}
			files = append(files, keyFile{p, data})
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("key directory %q: %w", p, unwrapPathError(err))
		}
		n := 0
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".pem") || e.IsDir() {
				continue
			}
			path := filepath.Join(p, name)
			data, err := readLimited(path)
			if err != nil {
				return nil, err
			}
			files = append(files, keyFile{path, data})
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("key directory %q: no *.pem files", p)
		}
	}
	return files, nil
}

// readLimited reads a key file of at most maxKeyFile bytes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file %q: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("key file %q: %w", path, unwrapPathError(err))
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("key file %q: larger than %d bytes: not a PEM key", path, maxKeyFile)
	}
	return data, nil
}

// unwrapPathError drops the *os.PathError wrapper, whose path the caller
// names already.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// digest returns a digest of the files' names and contents.
func digest(files []keyFile) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%d:%s\x00%d:", len(f.path), f.path, len(f.data))
		h.Write(f.data)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// keySet returns the JWKS of the files: the public key of each (a private
// key, public key or certificate), with its RFC 7638 thumbprint as kid.
// The same key in two files is published once.
func keySet(files []keyFile) (jwtkey.JWKS, error) {
	set := jwtkey.JWKS{Keys: []jwtkey.JWK{}}
	for _, f := range files {
		pub, err := jwtkey.ParsePublicKeyPEM(f.data)
		if err != nil {
			// Its "jwtkey: parse public key" prefix says what the file
			// name says here.
			if cause := errors.Unwrap(err); cause != nil {
				err = cause
			}
			return jwtkey.JWKS{}, fmt.Errorf("key file %q: %w", f.path, err)
		}
		jwk, err := jwtkey.PublicJWK(pub, "")
		if err != nil {
			return jwtkey.JWKS{}, fmt.Errorf("key file %q: %w", f.path, err)
		}
		if !slices.ContainsFunc(set.Keys, func(k jwtkey.JWK) bool { return k.KeyID == jwk.KeyID }) {
			set.Keys = append(set.Keys, jwk)
		}
	}
	return set, nil
}

// openFile opens path for reading; its error does not repeat the path.
func openFile(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	return f, nil
}
