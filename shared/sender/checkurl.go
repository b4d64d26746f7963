package sender

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// lookupTimeout bounds the DNS lookup of CheckURL, which runs inside an API request.
const lookupTimeout = 5 * time.Second

// internalNames are names (and their subdomains) that never denote a public host.
var internalNames = []string{
	// RFC 6761: always the loopback interface.
	"localhost",
	// Private-use TLD; on Google Cloud it holds metadata.google.internal and every VM's name.
	"internal",
	// RFC 6762: multicast DNS names on the local link.
	"local",
	// RFC 8375: home networks.
	"home.arpa",
}

// CheckURL validates a webhook URL as shared/delivery/README.md, Security asks, before the API
// stores it. The URL must be absolute https (http too when insecure targets are allowed), carry no
// user name or password, be at most 2048 characters, name a host and, if it has a port, one from 1
// to 65535. Unless insecure targets are allowed, the host — an international name in the IDNA form
// net/http dials, e.g. "１２７.０.０.１" as 127.0.0.1 — must not be an IP address in a blocked range
// (also when written as a decimal, octal or hex IPv4 shorthand such as 2130706433 or 0x7f.0.0.1),
// nor localhost or an internal or single-label name, nor a name whose addresses are all blocked. A
// name that does not resolve (yet) is accepted: the dial guard checks every delivery anyway. The
// error, which wraps ErrBlocked, is a sentence meant for the API user.
func (c *Client) CheckURL(ctx context.Context, rawURL string) error {
	u, err := c.checkStatic(rawURL)
	if err != nil || c.allowInsecure {
		return err
	}
	host := normalHost(u)
	if _, ok := hostIP(host); ok {
		return nil // an IP literal was judged by checkStatic
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := c.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil // not resolving yet is allowed; see above
	}
	var first error
	for _, a := range addrs {
		err := c.guard.checkAddr(a)
		if err == nil {
			// One public address is enough: the dial guard keeps deliveries off the others.
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return &blockedError{
		msg:   fmt.Sprintf("the URL's host %q resolves only to addresses that are not public: %s", host, first),
		cause: first,
	}
}

// checkStatic runs every check that needs no DNS: the URL's shape always,
// and the host's form unless insecure targets are allowed.
func (c *Client) checkStatic(rawURL string) (*url.URL, error) {
	if rawURL == "" {
		return nil, refuse("the URL is empty")
	}
	if len(rawURL) > maxURLLength {
		return nil, refuse("the URL is %d characters long; the limit is %d", len(rawURL), maxURLLength)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error repeats the URL
		}
		return nil, refuse("the URL could not be parsed: %v", err)
	}
	if !u.IsAbs() {
		return nil, refuse("the URL must be absolute, like https://example.com/webhooks")
	}
	switch {
	case u.Scheme == "https", u.Scheme == "http" && c.allowInsecure:
	case c.allowInsecure:
		return nil, refuse("the URL must use http or https, not %q", u.Scheme)
	default:
		return nil, refuse("the URL must use https, not %q", u.Scheme)
	}
	if u.User != nil {
		return nil, refuse("the URL must not contain a user name or password")
	}
	if u.Hostname() == "" {
		return nil, refuse("the URL must include a host name")
	}
	if p := u.Port(); p != "" {
		// url.Parse takes any digits; a port the dialer cannot use would fail every attempt for a day.
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, refuse("the URL's port %s is not a port number from 1 to 65535", p)
		}
	}
	if c.allowInsecure {
		return u, nil
	}
	if host := u.Hostname(); !isASCII(host) {
		if _, err := idna.Lookup.ToASCII(host); err != nil {
			return nil, refuse("the URL's host %q is not a valid international domain name", host)
		}
	}
	return u, c.checkHost(normalHost(u))
}

// checkHost judges the host without resolving it.
func (c *Client) checkHost(host string) error {
	if ip, ok := hostIP(host); ok {
		if err := c.guard.checkAddr(ip); err != nil {
			return &blockedError{msg: fmt.Sprintf("the URL's host %q is not a public address: %s", host, err), cause: err}
		}
		return nil
	}
	if endsInNumber(host) {
		// Browsers and inet_aton would read it as an IPv4 address; a resolver might too.
		return refuse("the URL's host %q is neither a domain name nor a valid IP address", host)
	}
	for _, n := range internalNames {
		if host == n || strings.HasSuffix(host, "."+n) {
			return refuse("the URL's host %q is a local or internal name, not a public one", host)
		}
	}
	if !strings.Contains(host, ".") {
		// A single label is resolved through the instance's search domains; on
		// Google Cloud that is the project's internal zone, e.g. "metadata".
		return refuse("the URL's host %q is not a fully qualified domain name", host)
	}
	return nil
}

// normalHost is the host the transport dials, in lower case, without brackets, port or final
// dots ("localhost.." is localhost to anyone reading it as a name). net/http converts an
// international name with IDNA before it resolves it, so the name is judged in that form:
// "１２７.０.０.１" is 127.0.0.1 and "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ" is localhost. A name IDNA refuses is
// returned as is; checkStatic refuses it.
func normalHost(u *url.URL) string {
	host := u.Hostname()
	if ascii, err := idna.Lookup.ToASCII(host); err == nil && !isASCII(host) {
		host = ascii
	}
	return strings.TrimRight(strings.ToLower(host), ".")
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hostIP reads host as an IP address: a standard literal, or an IPv4
// shorthand (2130706433, 0177.0.0.1, 0x7f.1) that Go's URL parser leaves as
// a name but inet_aton, getaddrinfo and browsers turn into an address.
func hostIP(host string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	if endsInNumber(host) {
		return parseIPv4Shorthand(host)
	}
	return netip.Addr{}, false
}

// endsInNumber reports whether the last label is numeric (decimal, or hex
// with 0x), which makes the WHATWG URL standard treat the host as IPv4.
func endsInNumber(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	digits, isHex := last, false
	if strings.HasPrefix(last, "0x") {
		digits, isHex = last[2:], true
	}
	for _, ch := range digits {
		if !('0' <= ch && ch <= '9' || isHex && 'a' <= ch && ch <= 'f') {
			return false
		}
	}
	return true
}

// parseIPv4Shorthand follows inet_aton (and the WHATWG IPv4 parser): one to
// four parts, each decimal, octal with a leading 0, or hex with 0x; the last
// part fills the remaining bytes, so "127.1" is 127.0.0.1.
func parseIPv4Shorthand(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	last := len(nums) - 1
	if nums[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	v := nums[last]
	for i, n := range nums[:last] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseIPv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case p == "":
		return 0, false
	case strings.HasPrefix(p, "0x"):
		p, base = p[2:], 16
		if p == "" {
			return 0, true // "0x" alone is zero
		}
	case len(p) > 1 && p[0] == '0':
		p, base = p[1:], 8
	}
	n, err := strconv.ParseUint(p, base, 64)
	return n, err == nil
}
