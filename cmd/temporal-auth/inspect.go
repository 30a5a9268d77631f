package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/temporalauth/temporalauth/cmd/temporal-auth/internal/inspect"
)

// maxInput bounds a token or JWKS document read from a file, stdin or HTTP.
const maxInput = 4 << 20

var inspectCommand = &command{
	name:     "inspect",
	synopsis: "explain whether a Temporal server will accept a token, and what it may do",
	args:     "[--jwks URL|FILE] [--claim-name NAME] [--audience AUD] [--issuer ISS] [--entra-tenant TENANT] [--need NS:ROLE] [--show-token] [--timeout DURATION] [TOKEN|-|@FILE]",
	about: `
Decodes a token and explains, line by line, what a Temporal server's default
JWT claim mapper and default authorizer will decide: the algorithm (RS256 and
ES256 only), the kid, sub, exp/iat/nbf (checked with zero leeway against
this machine's clock), the audience, and the roles the permissions claim
grants per namespace. The last line is the verdict, ACCEPTED or REJECTED
with the reasons; the exit status is 1 when it is REJECTED, including a
token that grants no access or lacks a --need.

The token is read from the argument, from FILE with @FILE, or from standard
input with - or no argument (an argument is visible to other users in the
process list: prefer the others). "Bearer <token>", "authorization: Bearer
<token>" and the lines of 'temporal-auth token --export' are accepted too.

With --jwks, the token's kid is looked up in that key set (the server's
jwtKeyProvider.keySourceURIs: an http(s) URL, a file:// URL or a file path)
and the signature is verified with the key. That tells that the key is
published, not that the server has fetched it: the server reads its key set
when it starts and then every refreshInterval, and refuses a kid it has not
fetched (the verdict says ACCEPTED once the server has fetched the key).

Beyond the stock server, iss (and tid) are shown, and with --issuer or
--entra-tenant iss is checked as serverauth checks it: it must equal an
allowed issuer exactly. --entra-tenant allows both issuers of an Entra ID
tenant, v1.0 https://sts.windows.net/<tenant>/ and v2.0
https://login.microsoftonline.com/<tenant>/v2.0 (give an authority URL
https://<host>/<tenant> for another cloud). A warning says when the token's
keys are known to sign other tenants' tokens too (Entra ID's issuers and
key sets) and no --audience was asked for: a server configured that way
accepts tokens from any tenant.

The token and its signature are never printed unless --show-token is given.`,
	flags: func(c *cli, fs *flagSet) func(context.Context, []string) error {
		jwksFrom := fs.String("jwks", "URL|FILE", "", "the server's JWKS: an http(s) URL, a file:// URL or a file path; verifies the kid and signature")
		claim := fs.String("claim-name", "NAME", inspect.DefaultPermissionsClaim, "the server's permissions claim name (permissionsClaimName)")
		audience := fs.String("audience", "AUD", "", "check aud as a server whose audience mapper returns AUD would")
		var issuers, tenants stringList
		fs.Var(&issuers, "issuer", "ISS", "", "check that iss equals ISS exactly, as serverauth does; repeatable")
		fs.Var(&tenants, "entra-tenant", "TENANT", "", "allow both issuers (v1.0 and v2.0) of the Entra ID tenant (a tenant ID, or an authority URL https://HOST/TENANT); repeatable")
		var needs needList
		fs.Var(&needs, "need", "NS:ROLE", "", "require the role on the namespace (read, write or admin; the namespace may be temporal-system); repeatable, or comma-separated")
		showToken := fs.Bool("show-token", false, "also print the token")
		timeout := fs.Duration("timeout", 10*time.Second, time.Millisecond, "how long to wait for the JWKS URL")
		return func(ctx context.Context, args []string) error {
			if len(args) > 1 {
				return usagef("give one token, got %d arguments", len(args))
			}
			if *claim == "" {
				return usagef("--claim-name is empty")
			}
			arg := "-"
			if len(args) == 1 {
				arg = args[0]
			}
			raw, err := readTokenArg(c, arg)
			if err != nil {
				return err
			}
			in, err := inspect.ParseInput(raw)
			if errors.Is(err, inspect.ErrNoToken) {
				return usagef("no token in %s (give TOKEN, @FILE, or - for standard input)", describeArg(arg))
			}
			if err != nil {
				return usagef("%s: %v", describeArg(arg), err)
			}
			opts := inspect.Options{PermissionsClaim: *claim, Audience: *audience, Needs: needs, Issuers: issuers}
			for _, tenant := range tenants {
				both, err := inspect.EntraIssuers(tenant)
				if err != nil {
					return usagef("--entra-tenant: %v", err)
				}
				opts.Issuers = append(opts.Issuers, both...)
			}
			if *jwksFrom != "" {
				set, err := loadKeySet(ctx, *jwksFrom, *timeout)
				if err != nil {
					return err
				}
				opts.KeySet = set
			}
			report := inspect.Analyze(in, opts)
			if *showToken {
				fmt.Fprintf(c.stdout, "token   %s\n", in.Token)
			}
			if err := report.WriteText(c.stdout); err != nil {
				return err
			}
			if !report.Accepted() {
				return errRejected
			}
			return nil
		}
	},
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}

// needList is the --need flag.
type needList []inspect.Need

func (n *needList) String() string {
	if n == nil {
		return ""
	}
	s := make([]string, len(*n))
	for i, need := range *n {
		s[i] = need.String()
	}
	return strings.Join(s, ",")
}

func (n *needList) Set(v string) error {
	parts := strings.Split(v, ",")
	for _, part := range parts {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		need, err := inspect.ParseNeed(part)
		if err != nil && len(parts) > 1 {
			return fmt.Errorf("%q: %w", part, err) // the flag's error shows the whole value
		}
		if err != nil {
			return err
		}
		*n = append(*n, need)
	}
	return nil
}

// describeArg names where a token came from, without the token.
func describeArg(arg string) string {
	switch {
	case arg == "-":
		return "standard input"
	case strings.HasPrefix(arg, "@"):
		return fmt.Sprintf("file %q", arg[1:])
	}
	return "the argument"
}

// readTokenArg reads the token argument: "-" for stdin, "@FILE", or the
// token itself.
func readTokenArg(c *cli, arg string) (string, error) {
	switch {
	case arg == "-":
		if c.stdin == nil {
			return "", usagef("no token given and no standard input")
		}
		if f, ok := c.stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprintln(c.stderr, "temporal-auth inspect: reading the token from standard input (paste it, then Ctrl-D)")
			}
		}
		b, err := io.ReadAll(io.LimitReader(c.stdin, maxInput+1))
		if err != nil {
			return "", fmt.Errorf("read the token from standard input: %w", err)
		}
		if len(b) > maxInput {
			return "", fmt.Errorf("standard input is larger than %d bytes: not a token", maxInput)
		}
		return string(b), nil
	case strings.HasPrefix(arg, "@"):
		path := arg[1:]
		if path == "" {
			return "", usagef("@ needs a file name: @FILE")
		}
		b, err := readFileLimited(path)
		if err != nil {
			return "", fmt.Errorf("token file %q: %w", path, err)
		}
		return string(b), nil
	}
	return arg, nil
}

// loadKeySet reads a JWKS from an http(s) URL, a file:// URL or a file.
func loadKeySet(ctx context.Context, from string, timeout time.Duration) (*inspect.KeySet, error) {
	u, err := url.Parse(from)
	switch {
	case err == nil && (u.Scheme == "http" || u.Scheme == "https"):
		data, err := fetch(ctx, u, timeout)
		if err != nil {
			return nil, fmt.Errorf("--jwks %s: %w", from, err)
		}
		set, err := inspect.ParseKeySet(from, data)
		switch {
		case errors.Is(err, inspect.ErrPEMKey):
			return nil, fmt.Errorf("--jwks %s: the answer is a PEM key, not a JSON Web Key Set; give the URL the server reads its keys from (one of its keySourceURIs)", from)
		case err != nil:
			return nil, fmt.Errorf("--jwks %s: %w; give the URL the server reads its keys from (one of its keySourceURIs)", from, err)
		}
		return set, nil
	case err == nil && u.Scheme == "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, usagef("--jwks %s: a file URL with a remote host is not supported (the server refuses it too)", from)
		}
		from = u.Path
	case err == nil && len(u.Scheme) > 1:
		return nil, usagef("--jwks %s: want an http, https or file URL, or a file path", from)
	}
	data, err := readFileLimited(from)
	if err != nil {
		return nil, fmt.Errorf("--jwks file %q: %w", from, err)
	}
	set, err := inspect.ParseKeySet(from, data)
	switch {
	case errors.Is(err, inspect.ErrPEMKey):
		return nil, fmt.Errorf("--jwks file %q: this is a PEM key, not a JSON Web Key Set; make its JWKS with temporal-auth jwks %s > jwks.json and pass --jwks jwks.json",
			from, shellQuote(from))
	case err != nil:
		return nil, fmt.Errorf("--jwks file %q: %w; give the JWKS the server reads (temporal-auth jwks KEYFILE prints one)", from, err)
	}
	return set, nil
}

// fetch GETs a JWKS document.
func fetch(ctx context.Context, u *url.URL, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DisableKeepAlives = true
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("no answer within %s", timeout)
		}
		return nil, requestError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s (a Temporal server does not check the status: it would fail to decode this answer and keep its old keys)", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("the answer is larger than %d bytes", maxInput)
	}
	return data, nil
}

// requestError is the cause of a failed request, without the method and
// URL (*url.Error) or the address (*net.OpError) that the caller names.
func requestError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" && oe.Err != nil {
		return fmt.Errorf("%w; check that a JWKS server listens there", oe.Err)
	}
	return err
}

// readFileLimited reads a file of at most maxInput bytes; its errors do not
// repeat the path.
func readFileLimited(path string) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxInput+1))
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("larger than %d bytes", maxInput)
	}
	return b, nil
}
