package sender

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// FuzzCheckURL feeds arbitrary URLs to the checks of CheckURL and Post that need no DNS, with
// insecure targets off. (CheckURL accepts only what they accept; DNS can refuse more, and a
// resolver would make the fuzzer's coverage depend on its caches.) Whatever they accept must be
// an https URL without user-info whose host — read the way net/http reads it when it dials,
// international names converted with IDNA — is neither a blocked address, in any IPv4
// spelling, nor a local or single-label name. Every refusal wraps ErrBlocked.
func FuzzCheckURL(f *testing.F) {
	for _, u := range []string{
		"https://example.com/webhooks", "https://127.0.0.1/", "https://[::ffff:127.0.0.1]:8443/", "https://0x7f.1/",
		"https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "https://api.ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "https://１２７.０.０.１/", "https://metadata.google.ⓘⓝⓣⓔⓡⓝⓐⓛ/",
		"https://u@example.com/", "https://example.com:8443/x?y#z", "https://127.1./", "https://xn--nxasmq6b.com/",
	} {
		f.Add(u)
	}
	c := New(Options{})
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := c.checkStatic(raw)
		if err != nil {
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("%q: %v does not wrap ErrBlocked", raw, err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || u.Scheme != "https" || u.User != nil || len(raw) > maxURLLength {
			t.Fatalf("%q accepted: not an https URL without user-info (%v)", raw, perr)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				t.Fatalf("%q accepted: port %q is no port", raw, p)
			}
		}
		host := u.Hostname()
		if a, err := idna.Lookup.ToASCII(host); err == nil && !isASCII(host) {
			host = a // what net/http dials
		}
		host = strings.TrimRight(strings.ToLower(host), ".")
		ip, perr := netip.ParseAddr(host)
		numeric := perr == nil || endsInNumber(host) // an address, or read as one by resolvers and browsers
		if perr != nil && numeric {
			ip, _ = parseIPv4Shorthand(host)
		}
		switch {
		case numeric && !ip.IsValid():
			t.Fatalf("%q accepted: its host %q is numeric but no address", raw, host)
		case numeric && c.guard.checkAddr(ip) != nil:
			t.Fatalf("%q accepted: its host %s is a blocked address", raw, ip)
		case numeric:
		case !strings.Contains(host, "."):
			t.Fatalf("%q accepted: its host %q is a single label", raw, host)
		default:
			for _, n := range internalNames {
				if host == n || strings.HasSuffix(host, "."+n) {
					t.Fatalf("%q accepted: its host %q is a local name", raw, host)
				}
			}
		}
	})
}
