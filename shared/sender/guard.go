package sender

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"code.dny.dev/ssrf"
)

// ErrBlocked reports that a URL was refused before any connection was made,
// or that the address actually dialled lies in a blocked range.
var ErrBlocked = errors.New("destination blocked")

// blockedError is a refusal. Its message is a plain sentence safe to show to
// an API user: it names the URL's problem or the address and its range, and
// never carries request headers or bodies.
type blockedError struct {
	msg   string
	cause error // the ssrf library's error for address refusals, else nil
}

func (e *blockedError) Error() string { return e.msg }

func (e *blockedError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrBlocked}
	}
	return []error{ErrBlocked, e.cause}
}

func refuse(format string, args ...any) error {
	return &blockedError{msg: fmt.Sprintf(format, args...)}
}

// rule is one line of the address policy.
type rule struct {
	prefix netip.Prefix
	what   string // completes "<addr> is ..."
}

func r(prefix, what string) rule { return rule{netip.MustParsePrefix(prefix), what} }

// policy is checked before the ssrf library so that refusals name the range
// in words. It repeats the ranges shared/delivery/README.md, Security names even where the library's
// IANA-generated list has them too, so our promise does not depend on what a
// future version of that list contains; the library stays the backstop for
// every other special-purpose range. IPv6 entries outside 2000::/3 are listed
// because the library refuses those only with a generic "not global unicast".
var policy = []rule{
	// 0.0.0.0 reaches the local host on Linux; the rest of 0/8 is "this network".
	r("0.0.0.0/8", `a "this network" address`),
	// RFC 1918: VPC-internal services and anything reachable through the VPC connector.
	r("10.0.0.0/8", "a private network address"),
	r("172.16.0.0/12", "a private network address"),
	r("192.168.0.0/16", "a private network address"),
	// RFC 6598 shared space: carrier-internal, also used inside some GCP products.
	r("100.64.0.0/10", "a carrier-grade NAT address"),
	// The function instance itself.
	r("127.0.0.0/8", "a loopback address"),
	// Link-local holds the metadata server (169.254.169.254), which hands out service-account tokens.
	r("169.254.0.0/16", "a link-local address (the range of the metadata server)"),
	// Multicast is never a single HTTP endpoint.
	r("224.0.0.0/4", "a multicast address"),
	// Reserved for future use; includes the limited broadcast 255.255.255.255.
	r("240.0.0.0/4", "a reserved address"),
	// :: means "this host" to connect() on most stacks.
	r("::/128", "the unspecified address"),
	// The function instance itself, over IPv6.
	r("::1/128", "a loopback address"),
	// IPv6 link-local: on-link neighbours and metadata services.
	r("fe80::/10", "a link-local address"),
	// RFC 4193 unique local: private IPv6 networks, and the metadata servers fd20:ce::254 (GCE) and fd00:ec2::254.
	r("fc00::/7", "a unique local (private) address"),
	// Multicast is never a single HTTP endpoint.
	r("ff00::/8", "a multicast address"),
}

// transition describes an IPv6 form that carries an IPv4 destination inside
// it. All of them are refused whatever they embed (a gateway we do not
// control would choose the real destination); extracting the IPv4 address
// only lets the error name the range an attacker was aiming at.
type transition struct {
	prefix netip.Prefix
	name   string
	ipv4   func(a [16]byte) netip.Addr
}

var transitions = []transition{
	// Deprecated IPv4-compatible form ::a.b.c.d; some stacks still route it to the IPv4 address.
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible address", func(a [16]byte) netip.Addr {
		return netip.AddrFrom4([4]byte(a[12:16]))
	}},
	// NAT64 well-known prefix (RFC 6052): a NAT64 gateway would connect to the embedded IPv4 address.
	{netip.MustParsePrefix("64:ff9b::/96"), "a NAT64 address", func(a [16]byte) netip.Addr {
		return netip.AddrFrom4([4]byte(a[12:16]))
	}},
	// 6to4 (RFC 3056): a relay would forward to the IPv4 address in bits 16-47.
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address", func(a [16]byte) netip.Addr {
		return netip.AddrFrom4([4]byte(a[2:6]))
	}},
	// Teredo (RFC 4380): the client's IPv4 address is stored inverted in the last 32 bits.
	{netip.MustParsePrefix("2001::/32"), "a Teredo address", func(a [16]byte) netip.Addr {
		return netip.AddrFrom4([4]byte{^a[12], ^a[13], ^a[14], ^a[15]})
	}},
}

// guard decides whether an address may be dialled. It is safe for concurrent use.
type guard struct {
	lib *ssrf.Guardian
}

func newGuard() *guard {
	// Any port: receivers legitimately listen on 8080, 8443 and the like, and
	// the address policy, not the port, is what keeps deliveries away from
	// internal services. The library's default network list (tcp4, tcp6) stays.
	return &guard{lib: ssrf.New(ssrf.WithAnyPort())}
}

// control is a net.Dialer.ControlContext. It runs after DNS resolution, on
// the address about to be connected, so a name that changes its answer
// between validation and delivery (DNS rebinding) is still refused. Anything
// it cannot parse is refused.
func (g *guard) control(_ context.Context, network, address string, c syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &blockedError{msg: fmt.Sprintf("cannot parse dialled address %q", address), cause: ssrf.ErrInvalidHostPort}
	}
	if err := g.checkAddr(ap.Addr()); err != nil {
		return err
	}
	// Network type (tcp4/tcp6 only) and the library's own address check.
	if err := g.lib.Safe(network, address, c); err != nil {
		return &blockedError{msg: err.Error(), cause: err}
	}
	return nil
}

// checkAddr returns a *blockedError naming the range when ip may not be
// dialled, or nil for a public address.
func (g *guard) checkAddr(ip netip.Addr) error {
	if !ip.IsValid() {
		return &blockedError{msg: "invalid IP address", cause: ssrf.ErrProhibitedIP}
	}
	orig := ip
	// A zone only qualifies link-scoped addresses, and prefixes never match a zoned address.
	ip = ip.WithZone("")
	if ip.Is4In6() {
		// IPv4-mapped (::ffff:a.b.c.d): the kernel dials the IPv4 address, so judge that one.
		v4 := ip.Unmap()
		if what, cause := g.classify(v4); what != "" {
			return &blockedError{msg: fmt.Sprintf("%s is the IPv4 address %s, %s", orig, v4, what), cause: cause}
		}
		return nil
	}
	if what, cause := classifyPolicy(ip); what != "" {
		return &blockedError{msg: fmt.Sprintf("%s is %s", orig, what), cause: cause}
	}
	if ip.Is6() {
		for _, t := range transitions {
			if !t.prefix.Contains(ip) {
				continue
			}
			v4 := t.ipv4(ip.As16())
			if what, _ := g.classify(v4); what != "" {
				return &blockedError{msg: fmt.Sprintf("%s is %s (%s) embedding %s, %s", orig, t.name, t.prefix, v4, what), cause: ssrf.ErrProhibitedIP}
			}
			return &blockedError{msg: fmt.Sprintf("%s is %s (%s) embedding %s; IPv6 transition addresses are not dialled", orig, t.name, t.prefix, v4), cause: ssrf.ErrProhibitedIP}
		}
	}
	if what, cause := g.classifyLib(ip); what != "" {
		return &blockedError{msg: fmt.Sprintf("%s is %s", orig, what), cause: cause}
	}
	return nil
}

// classify describes why a plain (unmapped, unzoned) address is refused, as
// a phrase like "a loopback address (127.0.0.0/8)"; "" means it is allowed.
func (g *guard) classify(ip netip.Addr) (string, error) {
	if what, cause := classifyPolicy(ip); what != "" {
		return what, cause
	}
	return g.classifyLib(ip)
}

func classifyPolicy(ip netip.Addr) (string, error) {
	for _, p := range policy {
		if p.prefix.Contains(ip) {
			return fmt.Sprintf("%s (%s)", p.what, p.prefix), ssrf.ErrProhibitedIP
		}
	}
	return "", nil
}

// classifyLib is the backstop: every other IANA special-purpose range, and
// all IPv6 outside 2000::/3.
func (g *guard) classifyLib(ip netip.Addr) (string, error) {
	if err := g.lib.SafeAddr(ip); err != nil {
		return fmt.Sprintf("a special-purpose address (%s)", ianaRange(ip)), err
	}
	return "", nil
}

// ianaRange names the library prefix that refused ip, for the error message.
func ianaRange(ip netip.Addr) string {
	if ip.Is4() {
		for _, p := range ssrf.IPv4DeniedPrefixes {
			if p.Contains(ip) {
				return p.String()
			}
		}
		return "IANA special-purpose registry"
	}
	if !ssrf.IPv6GlobalUnicast.Contains(ip) {
		return "outside the global unicast range " + ssrf.IPv6GlobalUnicast.String()
	}
	for _, p := range ssrf.IPv6DeniedPrefixes {
		if p.Contains(ip) {
			return p.String()
		}
	}
	return "IANA special-purpose registry"
}
