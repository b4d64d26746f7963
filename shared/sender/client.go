// Package sender is the HTTP client that POSTs webhooks, and the URL check
// the API runs before it stores a webhook URL.
//
// It promises:
//   - Unless insecure targets are allowed (local stack only), only https URLs
//     are sent to, and no connection is ever made to a loopback, private,
//     link-local (including the metadata server), CGNAT, multicast,
//     unspecified or otherwise reserved address, in any of its IPv4-mapped,
//     IPv4-compatible, NAT64, 6to4 or Teredo IPv6 forms. The check runs on the
//     address actually dialled, after DNS, so DNS rebinding fails.
//   - One Post is one attempt: one request, bounded by the attempt timeout,
//     no redirects followed (a 3xx is returned as the response), no proxy.
//   - Failures are typed: errors.Is(err, ErrBlocked | ErrTimeout |
//     ErrConnection) tells the caller what happened. Error messages name the
//     target host, never the URL's path or query, the headers or the body.
//   - A Client is safe for concurrent use and reuses keep-alive connections;
//     create one per instance.
package sender

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Error kinds of a failed attempt, for errors.Is. ErrBlocked is in guard.go.
var (
	// ErrTimeout: the attempt's deadline passed before the response headers arrived.
	ErrTimeout = errors.New("attempt timed out")
	// ErrConnection: DNS failure, connection refused or reset, TLS failure, malformed response.
	ErrConnection = errors.New("connection failed")
)

const (
	defaultTimeout         = 15 * time.Second
	defaultMaxResponseBody = 4096
	defaultUserAgent       = "Jobhooks"
	// maxURLLength is the longest webhook URL the API stores (shared/contracts/README.md).
	maxURLLength = 2048
	// drainLimit bounds how much unread response body is discarded so the
	// connection can go back to the pool; beyond it, closing is cheaper.
	drainLimit = 64 << 10
	// maxResponseHeaderBytes bounds the memory one attempt can be made to use.
	maxResponseHeaderBytes = 64 << 10
)

// Options configure a Client. The zero value is a secure client with defaults.
type Options struct {
	// Timeout bounds one attempt (connect, TLS, request, response headers and
	// the kept body). Default 15s; keep it below the push ack deadline.
	Timeout time.Duration
	// AllowInsecureTargets permits plain http and any address. Only the local
	// stack sets it (JOBHOOKS_ALLOW_INSECURE_TARGETS).
	AllowInsecureTargets bool
	// UserAgent is sent on every request, e.g. "Jobhooks/1.2.0". Default "Jobhooks".
	UserAgent string
	// Resolver resolves target names, for tests. nil means net.DefaultResolver.
	Resolver *net.Resolver
	// MaxResponseBody is how many bytes of the response body are kept. Default 4096.
	MaxResponseBody int
}

// Client sends webhook attempts. Create it with New.
type Client struct {
	http          *http.Client
	guard         *guard // nil when insecure targets are allowed
	resolver      *net.Resolver
	timeout       time.Duration
	userAgent     string
	maxBody       int
	allowInsecure bool
}

// Response is what the endpoint answered.
type Response struct {
	StatusCode int
	Header     http.Header
	// Body holds at most Options.MaxResponseBody bytes of the response body.
	Body []byte
	// Latency is the time from sending the request to receiving the response headers.
	Latency time.Duration
}

// Excerpt is the kept body as text that any store accepts: valid UTF-8 whatever the endpoint
// sent. A character cut by the size limit is dropped, and every other invalid byte (binary,
// Latin-1) becomes U+FFFD. Endpoints answer anything, and a reply that could not be recorded
// would make its delivery repeat (protobuf refuses invalid UTF-8 in a string field).
func (r Response) Excerpt() string {
	b := r.Body
	// Drop a trailing incomplete character: at most utf8.UTFMax-1 bytes of one.
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			break // ASCII: nothing is cut
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				b = b[:len(b)-i]
			}
			break
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// New returns a Client. Create one per function instance, not per request:
// it holds the connection pool.
func New(opts Options) *Client {
	c := &Client{
		resolver:      opts.Resolver,
		timeout:       opts.Timeout,
		userAgent:     opts.UserAgent,
		maxBody:       opts.MaxResponseBody,
		allowInsecure: opts.AllowInsecureTargets,
	}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = defaultUserAgent
	}
	if c.maxBody <= 0 {
		c.maxBody = defaultMaxResponseBody
	}

	dialer := &net.Dialer{
		Timeout:   c.timeout,
		KeepAlive: 30 * time.Second,
		Resolver:  opts.Resolver,
	}
	if !c.allowInsecure {
		c.guard = newGuard()
		dialer.ControlContext = c.guard.control
	}
	transport := &http.Transport{
		// Never a proxy: the guard checks the address dialled, which would be the proxy's.
		Proxy:       nil,
		DialContext: dialer.DialContext,
		// A custom DialContext turns HTTP/2 off unless asked for.
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    min(10*time.Second, c.timeout),
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    32,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
	c.http = &http.Client{
		Transport: transport,
		// shared/delivery/README.md, Guarantees: a redirect is not followed; the 3xx itself is the
		// outcome. Following it would also let an endpoint point the next request anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// Post makes one attempt: it POSTs body to rawURL with Content-Type
// application/json, the User-Agent, then header (those, Host, Content-Length
// and hop-by-hop headers in it are dropped). Any status code,
// including 3xx, 4xx and 5xx, is a Response with a nil error. A URL that
// fails the checks of CheckURL that need no DNS is refused without dialling.
// The error wraps ErrBlocked, ErrTimeout or ErrConnection.
func (c *Client) Post(ctx context.Context, rawURL string, header http.Header, body []byte) (Response, error) {
	u, err := c.checkStatic(rawURL)
	if err != nil {
		return Response{}, fmt.Errorf("sender: POST refused: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		// Unreachable after checkStatic; the URL is left out in case it carries a token.
		return Response{}, fmt.Errorf("sender: POST to %s refused: %w", u.Host, refuse("the request could not be built"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	for k, vs := range header {
		if reservedHeader(k) {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	latency := time.Since(start)
	if err != nil {
		return Response{Latency: latency}, classify(ctx, u.Host, err)
	}
	defer resp.Body.Close()
	// The status line is the outcome; the body is kept only for the record, so
	// an error while reading it (a reset, the deadline) does not fail the attempt.
	kept, _ := io.ReadAll(io.LimitReader(resp.Body, int64(c.maxBody)))
	// Drain a bounded remainder so the connection returns to the pool.
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	return Response{
		StatusCode: resp.StatusCode,
		Header:     resp.Header,
		Body:       kept,
		Latency:    latency,
	}, nil
}

// reservedHeader reports whether a header belongs to this client or to the connection rather
// than to the caller: the body's type and the sender's name are this client's, and the framing
// and hop-by-hop headers (RFC 9110 §7.6.1) would let a caller's value change how the request is
// delimited or what the connection becomes. Callers must not pass them; if one does, it is
// dropped rather than sent beside the client's own.
func reservedHeader(name string) bool {
	switch n := strings.ToLower(name); n {
	case "content-type", "user-agent", "host", "content-length", "transfer-encoding",
		"connection", "keep-alive", "te", "trailer", "upgrade":
		return true
	default:
		return strings.HasPrefix(n, "proxy-")
	}
}

// classify wraps a transport error in its kind. url.Error is peeled off
// because its message repeats the full URL, whose query often holds a token.
func classify(ctx context.Context, host string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrBlocked):
		return fmt.Errorf("sender: POST to %s: %w: %w", host, ErrBlocked, err)
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(ctx.Err(), context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("sender: POST to %s: %w: %w", host, ErrTimeout, err)
	default:
		// Includes the caller cancelling ctx: the attempt did not complete.
		return fmt.Errorf("sender: POST to %s: %w: %w", host, ErrConnection, err)
	}
}
