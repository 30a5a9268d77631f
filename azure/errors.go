package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/internal/idperr"
	"github.com/temporalauth/temporalauth/internal/secretfile"
	"github.com/temporalauth/temporalauth/internal/setting"
)

// maxRecordedBody is how much of a response body is kept to explain an error.
const maxRecordedBody = 64 << 10

// maxResponseBody bounds what is read of any answer (as x/oauth2 bounds
// token answers): a larger one is refused unread.
const maxResponseBody = 1 << 20

// ResponseError is an error answer (HTTP status other than 2xx) from the
// identity provider or the managed-identity endpoint, reduced to what helps a
// reader: the status, Entra ID's error and AADSTS code with the first line of
// its description, and the trace and correlation IDs to quote to Microsoft.
// A response that is not JSON (an HTML page from a proxy) is described by its
// content type and length only.
//
// Its fields are those of oidc.ResponseError, with Entra ID's own added
// (AADSTS, TraceID, CorrelationID). Every string from the identity
// provider in it is one line without control characters, with anything
// that looks like a token, a secret or an Authorization header's
// credential removed, and Error quotes the description and any ID that is
// not a plain identifier.
type ResponseError struct {
	// Method and URL are the request's, the URL without its query.
	Method, URL string
	// StatusCode is the HTTP status code.
	StatusCode int
	// ContentType is the response's media type, e.g. "application/json".
	ContentType string
	// BodyLength is the length of the response body in bytes (at most
	// 1 MiB and one byte: a larger body is not read further).
	BodyLength int
	// ErrorCode is the OAuth error, e.g. "invalid_client", at most 100
	// bytes; empty when the answer's is not printable ASCII.
	ErrorCode string
	// Description is the first line of the error description, without the
	// AADSTS prefix, at most 300 bytes.
	Description string
	// RetryAfter is the Retry-After the response carried, zero if none.
	RetryAfter time.Duration
	// Check names the settings the AADSTS code points at, such as
	// AZURE_CLIENT_SECRET for AADSTS7000215 (an invalid client secret),
	// as the Config names them; empty for other codes.
	Check []string
	// Hint says what the AADSTS code means, and what to check, in words,
	// for the codes TROUBLESHOOTING.md lists; empty for others.
	Hint string
	// AADSTS is Entra ID's error code, e.g. "AADSTS7000215".
	AADSTS string
	// TraceID and CorrelationID identify the request at Microsoft, at most
	// 100 bytes each.
	TraceID, CorrelationID string
}

// Error describes the answer in one line. (headers.WithRetryAfter, which
// wraps it when it carried Retry-After, tells the wait.)
func (e *ResponseError) Error() string {
	var ids []string
	if e.TraceID != "" {
		ids = append(ids, "trace ID "+idperr.Field(e.TraceID))
	}
	if e.CorrelationID != "" {
		ids = append(ids, "correlation ID "+idperr.Field(e.CorrelationID))
	}
	return idperr.Describe("azure", e.Method, e.URL, e.StatusCode, e.ContentType, e.BodyLength,
		[]string{e.ErrorCode, e.AADSTS}, e.Description, ids, e.Hint)
}

// joinOr joins names as "a or b" or "a, b or c".
func joinOr(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func orUnknown(contentType string) string {
	if contentType == "" {
		return "untyped"
	}
	return contentType
}

// exchange records the last HTTP request of one Token call and its response,
// so that an MSAL error can be explained without quoting MSAL's message (which
// embeds response bodies).
type exchange struct {
	mu  sync.Mutex
	rec record
}

// record is what an exchange holds.
type record struct {
	method, url string
	responded   bool
	status      int
	contentType string
	retryAfter  string
	body        []byte // at most maxRecordedBody bytes
	bodyLen     int
}

type exchangeKey struct{}

func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

func (ex *exchange) begin(req *http.Request) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.rec = record{method: req.Method, url: idperr.URL(req.URL)}
}

func (ex *exchange) finish(resp *http.Response, body []byte) {
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.rec.responded = true
	ex.rec.status = resp.StatusCode
	ex.rec.contentType = ct
	ex.rec.retryAfter = resp.Header.Get("Retry-After")
	ex.rec.bodyLen = len(body)
	ex.rec.body = bytes.Clone(body[:min(len(body), maxRecordedBody)])
}

// snapshot returns the record.
func (ex *exchange) snapshot() record {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.rec
}

// recordingClient is the HTTP client MSAL gets: it forwards to the configured
// client and records each response in the calling Token's exchange.
type recordingClient struct {
	client *http.Client
}

// Do sends req and records its response.
func (rc *recordingClient) Do(req *http.Request) (*http.Response, error) {
	ex, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if ex != nil {
		ex.begin(req)
	}
	resp, err := rc.client.Do(req)
	if err != nil {
		return resp, err
	}
	// MSAL reads every body whole; reading it here first changes nothing
	// but bounds it, and lets the answer be explained if MSAL rejects it.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	_ = resp.Body.Close()
	if ex != nil {
		ex.finish(resp, body)
	}
	if err != nil {
		return nil, err
	}
	if len(body) > maxResponseBody {
		return nil, fmt.Errorf("%s %s: %d %s: the answer is larger than %d bytes; not read further",
			req.Method, idperr.URL(req.URL), resp.StatusCode, http.StatusText(resp.StatusCode), maxResponseBody)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// CloseIdleConnections closes the idle connections of the wrapped client.
func (rc *recordingClient) CloseIdleConnections() { rc.client.CloseIdleConnections() }

// ConfigureClient lets MSAL adapt the wrapped client where a managed-identity
// source requires it (Service Fabric pins the endpoint's certificate).
func (rc *recordingClient) ConfigureClient(augment func(*http.Client) (*http.Client, error)) error {
	c, err := augment(rc.client)
	if err != nil {
		return err
	}
	rc.client = c
	return nil
}

// explain turns an error from MSAL into one that says what happened without
// quoting secrets, tokens or whole response bodies.
func explain(ctx context.Context, err error, ex *exchange, elapsed time.Duration, secrets []string, cfg Config) error {
	var fe *secretfile.Error
	if errors.As(err, &fe) {
		return fe
	}
	rec := ex.snapshot()
	if rec.responded && (rec.status < 200 || rec.status > 299) {
		re := responseError(rec, secrets)
		re.Check = cfg.settingsFor(re.AADSTS)
		re.Hint = aadstsCodes[re.AADSTS].meaning
		if len(re.Check) > 0 {
			re.Hint += ": check " + joinOr(re.Check)
		}
		if re.RetryAfter > 0 {
			return headers.WithRetryAfter(re, re.RetryAfter)
		}
		return re
	}
	if cerr := ctx.Err(); cerr != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		if cerr == nil {
			cerr = context.DeadlineExceeded
			if errors.Is(err, context.Canceled) {
				cerr = context.Canceled
			}
		}
		what := "token request"
		if rec.url != "" {
			what = rec.method + " " + rec.url
		}
		if errors.Is(cerr, context.DeadlineExceeded) {
			return fmt.Errorf("azure: %s: timed out after %v without an answer: %w", what, elapsed.Round(time.Millisecond), cerr)
		}
		return fmt.Errorf("azure: %s: canceled: %w", what, cerr)
	}
	if rec.responded {
		return &malformedResponseError{method: rec.method, url: rec.url, status: rec.status,
			contentType: rec.contentType, length: rec.bodyLen, reason: whyUnusable(rec)}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		u := ue.URL
		if pu, perr := url.Parse(ue.URL); perr == nil {
			u = idperr.URL(pu)
		}
		return fmt.Errorf("azure: %s %s: %w", strings.ToUpper(ue.Op), u, idperr.Scrubbed(ue.Err, idperr.Scrub(ue.Err.Error(), secrets)))
	}
	return fmt.Errorf("azure: %s", idperr.Scrub(err.Error(), secrets))
}

// malformedResponseError reports a 2xx answer that MSAL could not use.
type malformedResponseError struct {
	method, url, contentType, reason string
	status, length                   int
}

func (e *malformedResponseError) Error() string {
	return fmt.Sprintf("azure: %s %s: %d %s: unusable %s response of %d bytes: %s",
		e.method, e.url, e.status, http.StatusText(e.status), orUnknown(e.contentType), e.length, e.reason)
}

// whyUnusable says what is wrong with a 2xx response body, without quoting it.
func whyUnusable(rec record) string {
	if rec.contentType != "" && rec.contentType != "application/json" {
		return "expected JSON"
	}
	if rec.bodyLen > len(rec.body) {
		return "too large to be a token response"
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(rec.body, &fields); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se) && se.Offset >= int64(len(rec.body)):
			return "truncated JSON"
		case se != nil:
			return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
		}
		return "not a JSON object"
	}
	switch {
	case len(fields["access_token"]) == 0:
		return "no access_token"
	case len(fields["expires_in"]) == 0 && len(fields["expires_on"]) == 0:
		return "no expires_in or expires_on"
	}
	return "fields of unexpected types"
}

// responseError describes a non-2xx answer.
func responseError(rec record, secrets []string) *ResponseError {
	re := &ResponseError{
		Method:      rec.method,
		URL:         rec.url,
		StatusCode:  rec.status,
		ContentType: rec.contentType,
		BodyLength:  rec.bodyLen,
		RetryAfter:  idperr.RetryAfter(rec.retryAfter, time.Now()),
	}
	var body struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		ErrorCodes       []int           `json:"error_codes"`
		TraceID          string          `json:"trace_id"`
		CorrelationID    string          `json:"correlation_id"`
		// App Service managed identity answers {"statusCode", "message", "correlationId"}.
		Message        string `json:"message"`
		CorrelationID2 string `json:"correlationId"`
	}
	if rec.bodyLen > len(rec.body) || json.Unmarshal(rec.body, &body) != nil {
		return re // not JSON: status, content type and length say enough
	}
	desc := body.ErrorDescription
	if len(body.Error) > 0 {
		var code string
		var nested struct{ Code, Message string } // ARM style: {"error": {"code", "message"}}
		if json.Unmarshal(body.Error, &code) == nil {
			re.ErrorCode = code
		} else if json.Unmarshal(body.Error, &nested) == nil {
			re.ErrorCode = nested.Code
			if desc == "" {
				desc = nested.Message
			}
		}
	}
	if desc == "" {
		desc = body.Message
	}
	desc = firstLine(desc)
	if code, rest, ok := cutAADSTS(desc); ok {
		re.AADSTS, desc = code, rest
	} else if len(body.ErrorCodes) > 0 {
		re.AADSTS = "AADSTS" + strconv.Itoa(body.ErrorCodes[0])
	}
	re.Description = idperr.Text(desc, secrets, idperr.MaxText)
	re.ErrorCode = idperr.Code(re.ErrorCode, secrets)
	re.TraceID = idperr.Text(body.TraceID, secrets, idperr.MaxField)
	re.CorrelationID = idperr.Text(setting.OrDefault(body.CorrelationID, body.CorrelationID2), secrets, idperr.MaxField)
	return re
}

// aadstsCode is what an AADSTS code means and the Config fields to check.
type aadstsCode struct {
	meaning string
	fields  []string
}

// aadstsCodes are the Entra ID error codes a ResponseError explains, with
// the settings they point at; TROUBLESHOOTING.md lists the same codes (a
// test checks that they agree).
var aadstsCodes = map[string]aadstsCode{
	"AADSTS7000215": {"invalid client secret", []string{"ClientSecret"}},
	"AADSTS7000222": {"the client secret has expired", []string{"ClientSecret"}},
	"AADSTS700016":  {"no such application in the tenant", []string{"ClientID", "TenantID"}},
	"AADSTS90002":   {"no such tenant", []string{"TenantID", "AuthorityHost"}},
	"AADSTS500011":  {"no such resource in the tenant", []string{"Scopes"}},
	"AADSTS70011":   {"invalid scope", []string{"Scopes"}},
	"AADSTS50049":   {"unknown or invalid authority", []string{"AuthorityHost", "DisableInstanceDiscovery"}},
	"AADSTS700024":  {"the client assertion is not within its valid time range", []string{"FederatedTokenFile", "CertificatePath"}},
	"AADSTS700027":  {"the client assertion's signature or certificate is invalid", []string{"FederatedTokenFile", "CertificatePath"}},
	"AADSTS70021":   {"no federated identity credential matches the token", []string{"FederatedTokenFile"}},
	"AADSTS700211":  {"no federated identity credential matches the token's issuer", []string{"FederatedTokenFile"}},
	"AADSTS700213":  {"no federated identity credential matches the token's subject", []string{"FederatedTokenFile"}},
	"AADSTS501051":  {"the application has no app role on the resource: grant it one (an application permission, with admin consent)", nil},
}

// settingsFor names the settings to check for an AADSTS code, as errors
// name them: the variables for a Config read from the environment. For
// the codes about the assertion only the credential in use is named.
func (c Config) settingsFor(aadsts string) []string {
	fields := aadstsCodes[aadsts].fields
	var out []string
	for _, f := range fields {
		switch f {
		case "FederatedTokenFile":
			if c.FederatedTokenFile == "" {
				continue
			}
		case "CertificatePath":
			if c.CertificatePath == "" && len(c.Certificate) == 0 {
				continue
			}
			if c.CertificatePath == "" {
				f = "Certificate"
			}
		}
		out = append(out, c.name(f))
	}
	return out
}

// firstLine returns s up to its first line break, trimmed: Entra ID puts the
// trace ID, correlation ID and timestamp on later lines.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

var aadstsPrefix = regexp.MustCompile(`^(AADSTS\d+):\s*`)

// cutAADSTS splits "AADSTS7000215: Invalid client secret" into its code and text.
func cutAADSTS(s string) (code, rest string, ok bool) {
	m := aadstsPrefix.FindStringSubmatch(s)
	if m == nil {
		return "", s, false
	}
	return m[1], s[len(m[0]):], true
}
