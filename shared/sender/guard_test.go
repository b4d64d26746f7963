package sender

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"code.dny.dev/ssrf"
)

func TestGuard_RefusesEveryBlockedRange(t *testing.T) {
	g := newGuard()
	tests := []struct {
		addr string
		// wantRange must appear in the error: the range the address really falls in.
		wantRange string
	}{
		{"0.0.0.0", "0.0.0.0/8"},
		{"0.1.2.3", "0.0.0.0/8"},
		{"10.0.0.1", "10.0.0.0/8"},
		{"100.64.0.1", "100.64.0.0/10"},
		{"100.127.255.254", "100.64.0.0/10"},
		{"127.0.0.1", "127.0.0.0/8"},
		{"127.255.255.254", "127.0.0.0/8"},
		{"169.254.169.254", "169.254.0.0/16"},
		{"172.16.0.1", "172.16.0.0/12"},
		{"172.31.255.254", "172.16.0.0/12"},
		{"192.0.0.8", "192.0.0.0/24"},
		{"192.0.2.1", "192.0.2.0/24"},
		{"192.168.1.1", "192.168.0.0/16"},
		{"198.18.0.1", "198.18.0.0/15"},
		{"198.19.255.254", "198.18.0.0/15"},
		{"198.51.100.1", "198.51.100.0/24"},
		{"203.0.113.1", "203.0.113.0/24"},
		{"224.0.0.1", "224.0.0.0/4"},
		{"239.255.255.250", "224.0.0.0/4"},
		{"240.0.0.1", "240.0.0.0/4"},
		{"255.255.255.255", "240.0.0.0/4"},

		{"::1", "::1/128"},
		{"::", "::/128"},
		{"fe80::1", "fe80::/10"},
		{"fe80::1%eth0", "fe80::/10"},
		{"fc00::1", "fc00::/7"},
		{"fd00:ec2::254", "fc00::/7"},
		{"fd20:ce::254", "fc00::/7"},
		{"ff02::1", "ff00::/8"},
		{"2001:db8::1", "2001:db8::/32"},
		{"fec0::1", "2000::/3"}, // deprecated site-local: outside global unicast

		// IPv4-mapped: named by the IPv4 range.
		{"::ffff:127.0.0.1", "127.0.0.0/8"},
		{"::ffff:10.0.0.1", "10.0.0.0/8"},
		{"::ffff:169.254.169.254", "169.254.0.0/16"},
		// IPv4-compatible.
		{"::127.0.0.1", "127.0.0.0/8"},
		{"::10.0.0.1", "10.0.0.0/8"},
		{"::169.254.169.254", "169.254.0.0/16"},
		// NAT64.
		{"64:ff9b::7f00:1", "127.0.0.0/8"},
		{"64:ff9b::a00:1", "10.0.0.0/8"},
		{"64:ff9b::a9fe:a9fe", "169.254.0.0/16"},
		// 6to4.
		{"2002:7f00:1::", "127.0.0.0/8"},
		{"2002:a00:1::", "10.0.0.0/8"},
		{"2002:a9fe:a9fe::1", "169.254.0.0/16"},
		// Teredo: client address stored inverted in the last 32 bits.
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.0/8"},
		{"2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.0/8"},
		{"2001:0:4136:e378:8000:63bf:5601:5601", "169.254.0.0/16"},
		// Transition forms embedding a public address are refused too (fail closed).
		{"64:ff9b::808:808", "64:ff9b::/96"},
		{"2002:808:808::", "2002::/16"},
		{"64:ff9b:1::a00:1", "2000::/3"}, // local-use NAT64 (RFC 8215)
		// IPv4-translated (SIIT, ::ffff:0:0/96): not 4in6, outside global unicast.
		{"::ffff:0:7f00:1", "2000::/3"},
		// Both ends of each range shared/delivery/README.md, Security names.
		{"10.255.255.255", "10.0.0.0/8"},
		{"172.31.255.255", "172.16.0.0/12"},
		{"192.168.255.255", "192.168.0.0/16"},
		{"100.127.255.255", "100.64.0.0/10"},
		{"169.254.255.255", "169.254.0.0/16"},
		{"febf:ffff::1", "fe80::/10"},
		{"fdff:ffff::1", "fc00::/7"},
		{"ffff::1", "ff00::/8"},
		{"::ffff:100.64.0.1", "100.64.0.0/10"},
		{"::ffff:0.0.0.0", "0.0.0.0/8"},
		{"::ffff:224.0.0.1", "224.0.0.0/4"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := g.checkAddr(netip.MustParseAddr(tt.addr))
			if err == nil {
				t.Fatalf("%s allowed, want refused", tt.addr)
			}
			if !errors.Is(err, ErrBlocked) || !errors.Is(err, ssrf.ErrProhibitedIP) {
				t.Errorf("error %q does not wrap ErrBlocked and ssrf.ErrProhibitedIP", err)
			}
			if !strings.Contains(err.Error(), tt.wantRange) {
				t.Errorf("error %q does not name the range %s", err, tt.wantRange)
			}

			// The same address through the dialer hook, as the kernel would report it.
			ap := netip.AddrPortFrom(netip.MustParseAddr(tt.addr), 443)
			network := "tcp6"
			if ap.Addr().Is4() {
				network = "tcp4"
			}
			if err := g.control(context.Background(), network, ap.String(), nil); !errors.Is(err, ErrBlocked) {
				t.Errorf("control(%s, %s) = %v, want ErrBlocked", network, ap, err)
			}
		})
	}
}

func TestGuard_AllowsPublicAddressesOnAnyPort(t *testing.T) {
	g := newGuard()
	for _, address := range []string{
		"8.8.8.8:443", "1.1.1.1:8080", "[2606:4700:4700::1111]:443", "[2606:4700:4700::1111]:8443",
		// The first address outside each neighbouring blocked range: the policy is exact, not broad.
		"9.255.255.255:443", "11.0.0.0:443", "172.15.255.255:443", "172.32.0.0:443", "192.167.255.255:443",
		"192.169.0.0:443", "100.63.255.255:443", "100.128.0.0:443", "169.253.255.255:443", "169.255.0.0:443",
		"126.255.255.255:443", "128.0.0.0:443", "223.255.255.255:443",
	} {
		network := "tcp4"
		if strings.HasPrefix(address, "[") {
			network = "tcp6"
		}
		if err := g.control(context.Background(), network, address, nil); err != nil {
			t.Errorf("control(%s, %s) = %v, want nil", network, address, err)
		}
	}
}

func TestGuard_FailsClosed(t *testing.T) {
	g := newGuard()
	tests := []struct{ network, address string }{
		{"tcp4", "example.com:443"}, // a name, not an address: never expected here
		{"tcp4", "8.8.8.8"},         // no port
		{"tcp4", ""},
		{"udp4", "8.8.8.8:53"}, // only TCP is ever dialled for a webhook
	}
	for _, tt := range tests {
		if err := g.control(context.Background(), tt.network, tt.address, nil); !errors.Is(err, ErrBlocked) {
			t.Errorf("control(%q, %q) = %v, want ErrBlocked", tt.network, tt.address, err)
		}
	}
	if err := g.checkAddr(netip.Addr{}); !errors.Is(err, ErrBlocked) {
		t.Errorf("checkAddr(zero) = %v, want ErrBlocked", err)
	}
}
