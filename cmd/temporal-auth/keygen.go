package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/temporalauth/temporalauth/jwtkey"
)

// maxRSABits bounds --bits: larger keys take minutes to generate and gain
// nothing for JWTs.
const maxRSABits = 8192

var keygenCommand = &command{
	name:     "keygen",
	synopsis: "write a new signing key and print its kid",
	args:     "[--rsa [--bits BITS]] [--out FILE] [--pub FILE] [--force]",
	about: `
Writes a new private key for signing tokens: ECDSA P-256 (ES256) by default,
or RSA (RS256) with --rsa, as a PKCS #8 PEM file readable only by its owner
(mode 0600). An existing file is not replaced unless --force is given; the
file is replaced atomically, so a running signer never reads half a key.

Prints the key's kid (its RFC 7638 thumbprint, the kid of the tokens it
signs) on standard output. Publish the public key with
'temporal-auth jwks FILE' or 'temporal-auth serve-jwks FILE'.`,
	flags: func(c *cli, fs *flagSet) func(context.Context, []string) error {
		useRSA := fs.Bool("rsa", false, "generate an RSA key (RS256) instead of ECDSA P-256 (ES256)")
		bits := fs.Int("bits", "BITS", jwtkey.MinRSABits, "RSA key size in bits, with --rsa (2048 to 8192)")
		out := fs.String("out", "FILE", "key.pem", "the private key file to write (mode 0600)")
		pub := fs.String("pub", "FILE", "", "also write the public key to this PEM file (mode 0644)")
		force := fs.Bool("force", false, "replace existing files")
		return func(_ context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q", args[0])
			}
			switch {
			case fs.isSet("bits") && !*useRSA:
				return usagef("--bits applies to RSA keys: add --rsa (ECDSA keys are always P-256)")
			case *bits < jwtkey.MinRSABits:
				return usagef("--bits %d: RS256 needs at least %d bits", *bits, jwtkey.MinRSABits)
			case *bits > maxRSABits:
				return usagef("--bits %d: at most %d", *bits, maxRSABits)
			case *out == "":
				return usagef("--out is empty")
			case *pub == *out:
				return usagef("--pub and --out name the same file")
			}
			return keygen(c, *useRSA, *bits, *out, *pub, *force)
		}
	},
}

func keygen(c *cli, useRSA bool, bits int, out, pub string, force bool) error {
	var (
		key crypto.Signer
		alg = jwtkey.AlgES256
		err error
	)
	if useRSA {
		alg = jwtkey.AlgRS256
		key, err = jwtkey.GenerateRS256Key(bits)
	} else {
		key, err = jwtkey.GenerateES256Key()
	}
	if err != nil {
		return err
	}
	kid, err := jwtkey.Thumbprint(key)
	if err != nil {
		return err
	}
	var pubPEM []byte
	if pub != "" {
		der, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			return fmt.Errorf("encode the public key: %w", err)
		}
		pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	var reserved []string
	undo := func() {
		for _, p := range reserved {
			_ = os.Remove(p)
		}
	}
	if !force {
		// Reserve the names first, so that no existing file is replaced
		// and nothing is written when one of them exists.
		for _, p := range []string{out, pub} {
			if p == "" {
				continue
			}
			if err := reserve(p); err != nil {
				undo()
				return err
			}
			reserved = append(reserved, p)
		}
	}
	if err := jwtkey.WritePrivateKeyFile(out, key); err != nil {
		undo()
		return err
	}
	if pub != "" {
		if err := writePublic(pub, pubPEM); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.stderr, "temporal-auth: wrote a new %s key to %s (mode 0600)", alg, out)
	if pub != "" {
		fmt.Fprintf(c.stderr, " and its public key to %s", pub)
	}
	fmt.Fprintf(c.stderr, "; its kid:\n")
	_, err = fmt.Fprintln(c.stdout, kid)
	return err
}

// reserve creates path, empty and private, failing when it exists.
func reserve(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: not replaced (use --force to replace it)", path)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, unwrapPathError(err))
	}
	return f.Close()
}

// writePublic writes a public key PEM file.
func writePublic(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, unwrapPathError(err))
	}
	_ = f.Chmod(0o644) // a reserved file was created 0600; best effort
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
