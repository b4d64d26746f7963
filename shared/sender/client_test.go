package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// countingServer is an httptest server that counts TCP connections and requests.
type countingServer struct {
	*httptest.Server
	conns    atomic.Int32
	requests atomic.Int32
}

func startServer(t *testing.T, tls bool, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	// Handshakes our client rejects on purpose would otherwise be logged.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func insecureClient(opts Options) *Client {
	opts.AllowInsecureTargets = true
	return New(opts)
}

const secret = "s3cr3t-value"

func TestPost_SendsOneJSONRequestWhenInsecureTargetsAllowed(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	srv := startServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("X-Receiver", "yes")
		w.WriteHeader(http.StatusNoContent)
	})
	c := insecureClient(Options{UserAgent: "Jobhooks/test"})
	body := []byte(`{"type":"batch.succeeded"}`)
	header := http.Header{"Webhook-Id": {"msg_1"}, "X-Custom": {"a", "b"}}

	resp, err := c.Post(context.Background(), srv.URL+"/hook", header, body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Receiver") != "yes" || resp.Latency <= 0 {
		t.Errorf("response = %+v", resp)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/hook" {
		t.Errorf("request = %s %s", got.Method, got.URL)
	}
	if !bytes.Equal(gotBody, body) {
		t.Errorf("body = %q, want %q", gotBody, body)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "Jobhooks/test", "Webhook-Id": "msg_1",
	} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if v := got.Header.Values("X-Custom"); len(v) != 2 {
		t.Errorf("X-Custom = %q, want both values", v)
	}
}

func TestPost_RefusesLoopbackServerWhenGuarded(t *testing.T) {
	srv := startServer(t, true, func(w http.ResponseWriter, r *http.Request) {})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	c := New(Options{})
	for _, host := range []string{
		"127.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]", "[::127.0.0.1]",
		"[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::1]", "0", "0.0.0.0", "[::]",
		"2130706433", "017700000001", "0x7f.0.0.1", "0177.0.0.1", "127.1", "127.000.000.001", "127.0.0.1.",
		"localhost", "LOCALHOST.", "api.localhost", "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "１２７.０.０.１", "127。0。0。1",
	} {
		u := fmt.Sprintf("https://%s:%d/hook", host, port)
		_, err := c.Post(context.Background(), u, nil, []byte(secret))
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("Post(%s) = %v, want ErrBlocked", u, err)
		}
	}
	if _, err := c.Post(context.Background(), strings.Replace(srv.URL, "https", "http", 1), nil, nil); !errors.Is(err, ErrBlocked) {
		t.Errorf("plain http: %v, want ErrBlocked", err)
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("server saw %d connections, want 0", n)
	}
}

func TestPost_RefusesBadURLsWithoutDialling(t *testing.T) {
	srv := startServer(t, false, func(w http.ResponseWriter, r *http.Request) {})
	host := srv.Listener.Addr().String()
	c := insecureClient(Options{})
	for _, u := range []string{
		"",
		"/relative",
		host + "/no-scheme",
		"http://user:" + secret + "@" + host + "/",
		"ftp://" + host + "/",
		"http://" + host + "/" + strings.Repeat("a", maxURLLength),
		"http:///no-host",
	} {
		_, err := c.Post(context.Background(), u, nil, nil)
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("Post(%.60q) = %v, want ErrBlocked", u, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error %q leaks the password", err)
		}
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("server saw %d connections, want 0", n)
	}
}

// A name that answers a public address at validation and a blocked one at delivery must be
// stopped by the dial guard, for every kind of blocked address in either record type.
func TestPost_DNSRebindingIsRefusedAtDialTime(t *testing.T) {
	srv := startServer(t, true, func(w http.ResponseWriter, r *http.Request) {})
	target := fmt.Sprintf("https://rebind.example.com:%d/hook", srv.Listener.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct{ rebound, wantRange string }{
		{"127.0.0.1", "127.0.0.0/8"},
		{"10.0.0.1", "10.0.0.0/8"},
		{"169.254.169.254", "169.254.0.0/16"},
		{"100.64.0.1", "100.64.0.0/10"},
		{"0.0.0.0", "0.0.0.0/8"},
		{"::1", "::1/128"},
		{"::ffff:127.0.0.1", "127.0.0.0/8"},
		{"fd00:ec2::254", "fc00::/7"},
		{"fe80::1", "fe80::/10"},
		{"64:ff9b::a9fe:a9fe", "169.254.0.0/16"},
	} {
		t.Run(tc.rebound, func(t *testing.T) {
			rebound := netip.MustParseAddr(tc.rebound)
			qtype, public := dnsmessage.TypeA, netip.MustParseAddr("8.8.8.8")
			if rebound.Is6() {
				qtype, public = dnsmessage.TypeAAAA, netip.MustParseAddr("2606:4700:4700::1111")
			}
			var queries atomic.Int32
			resolver := startDNS(t, func(q string, qt dnsmessage.Type) ([]netip.Addr, bool) {
				if q != "rebind.example.com." {
					return nil, false
				}
				if qt != qtype {
					return nil, true
				}
				if queries.Add(1) == 1 {
					return []netip.Addr{public}, true
				}
				return []netip.Addr{rebound}, true
			})
			c := New(Options{Resolver: resolver, Timeout: 2 * time.Second})
			if err := c.CheckURL(context.Background(), target); err != nil {
				t.Fatalf("CheckURL while the name is public = %v, want nil", err)
			}
			_, err := c.Post(context.Background(), target, nil, []byte(secret))
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("Post after rebinding = %v, want ErrBlocked", err)
			}
			if !strings.Contains(err.Error(), tc.wantRange) {
				t.Errorf("error %q does not name the range %s", err, tc.wantRange)
			}
			if n := queries.Load(); n != 2 {
				t.Errorf("%d %s queries, want 2 (one per check)", n, qtype)
			}
		})
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("local server saw %d connections, want 0", n)
	}
}

// No redirect is followed, whatever its code and wherever it points: the 3xx is the outcome.
func TestPost_ReturnsRedirectWithoutFollowing(t *testing.T) {
	var targetHits atomic.Int32
	srv := startServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/target" {
			targetHits.Add(1)
			return
		}
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		http.Redirect(w, r, r.URL.Query().Get("to"), code)
	})
	c := insecureClient(Options{})
	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, to := range []string{"/target", srv.URL + "/target", "http://169.254.169.254/computeMetadata/v1/"} {
			u := srv.URL + "/hook?" + url.Values{"code": {strconv.Itoa(code)}, "to": {to}}.Encode()
			resp, err := c.Post(context.Background(), u, nil, nil)
			if err != nil {
				t.Fatalf("%d to %s: %v", code, to, err)
			}
			if resp.StatusCode != code || resp.Header.Get("Location") != to {
				t.Errorf("got %d Location %q, want %d %s", resp.StatusCode, resp.Header.Get("Location"), code, to)
			}
		}
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("redirect target requested %d times, want 0", n)
	}
}

func TestPost_SlowEndpointIsErrTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := startServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	c := insecureClient(Options{Timeout: 200 * time.Millisecond})

	start := time.Now()
	_, err := c.Post(context.Background(), srv.URL+"/hook?token="+secret,
		http.Header{"Authorization": {"Bearer " + secret}}, []byte(secret))
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrConnection) || errors.Is(err, ErrBlocked) {
		t.Fatalf("err = %v, want only ErrTimeout", err)
	}
	t.Log(err)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("attempt took %s with a 200ms timeout", d)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q leaks the query, a header or the body", err)
	}
}

func TestPost_RefusedConnectionIsErrConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	_, err = insecureClient(Options{}).Post(context.Background(), "http://"+addr+"/hook?token="+secret,
		http.Header{"Authorization": {"Bearer " + secret}}, []byte(secret))
	if !errors.Is(err, ErrConnection) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrBlocked) {
		t.Fatalf("err = %v, want only ErrConnection", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q leaks the query, a header or the body", err)
	}
}

func TestPost_UntrustedCertificateIsErrConnection(t *testing.T) {
	srv := startServer(t, true, func(w http.ResponseWriter, r *http.Request) {})
	_, err := insecureClient(Options{}).Post(context.Background(), srv.URL, nil, nil)
	if !errors.Is(err, ErrConnection) {
		t.Fatalf("err = %v, want ErrConnection", err)
	}
	if srv.requests.Load() != 0 {
		t.Error("request reached the handler over an unverified TLS connection")
	}
}

func TestPost_KeepsOnlyMaxResponseBody(t *testing.T) {
	full := strings.Repeat("0123456789", 1000)
	srv := startServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, full)
	})
	resp, err := insecureClient(Options{MaxResponseBody: 100}).Post(context.Background(), srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != full[:100] {
		t.Errorf("body = %d bytes %.20q..., want the first 100 bytes", len(resp.Body), resp.Body)
	}
}

func TestPost_DefaultKeepsFirst4KiB(t *testing.T) {
	srv := startServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 5000))
	})
	resp, err := insecureClient(Options{}).Post(context.Background(), srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Body) != 4096 {
		t.Errorf("kept %d bytes, want 4096", len(resp.Body))
	}
}

// Bodies longer than what is kept are drained, so the connection is reused.
func TestPost_ReusesKeepAliveConnection(t *testing.T) {
	srv := startServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 10<<10))
	})
	c := insecureClient(Options{})
	for i := range 3 {
		if _, err := c.Post(context.Background(), srv.URL, nil, []byte("{}")); err != nil {
			t.Fatalf("Post %d: %v", i, err)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("server saw %d connections for 3 sequential Posts, want 1", n)
	}
}
