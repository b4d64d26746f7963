package sender

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	resolver := startDNS(t, staticDNS(map[string][]string{
		"example.com.":         {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"hooks.example.com.":   {"93.184.215.14"},
		"private.example.com.": {"10.0.0.5", "fd00::5"},
		"mixed.example.com.":   {"10.0.0.5", "8.8.8.8"},
	}))
	c := New(Options{Resolver: resolver})

	tests := []struct {
		name, url string
		// wantErr is a fragment of the user-facing message; "" means accepted.
		wantErr string
	}{
		{"good https", "https://example.com/webhooks", ""},
		{"port and query", "https://hooks.example.com:8443/in?src=jobhooks", ""},
		{"public IPv4 literal", "https://8.8.8.8/hook", ""},
		{"public IPv6 literal", "https://[2606:4700:4700::1111]/hook", ""},
		{"decimal shorthand of a public address", "https://134744072/hook", ""},
		{"name that does not resolve yet", "https://not-yet.example.com/hook", ""},
		{"some public address among blocked ones", "https://mixed.example.com/hook", ""},
		{"international name", "https://bücher.example.com/hook", ""},
		{"punycode name", "https://xn--bcher-kva.example.com/hook", ""},
		{"highest port", "https://example.com:65535/", ""},
		{"fragment that looks like user-info", "https://example.com/#@127.0.0.1", ""},

		{"http when not allowed", "http://example.com/webhooks", `must use https, not "http"`},
		{"other scheme", "ftp://example.com/", `must use https, not "ftp"`},
		{"user-info", "https://user:pw@example.com/", "user name or password"},
		{"user only", "https://user@example.com/", "user name or password"},
		{"too long", "https://example.com/" + strings.Repeat("a", 2029), "the limit is 2048"},
		{"relative", "/webhooks", "must be absolute"},
		{"no scheme", "example.com/webhooks", "must be absolute"},
		{"empty", "", "empty"},
		{"no host", "https:///webhooks", "must include a host"},
		{"unparseable", "https://exa mple.com/", "could not be parsed"},

		{"loopback IPv4", "https://127.0.0.1/", "loopback"},
		{"private IPv4", "https://10.1.2.3:8443/", "10.0.0.0/8"},
		{"metadata server", "https://169.254.169.254/computeMetadata/v1/", "169.254.0.0/16"},
		{"CGNAT", "https://100.64.1.1/", "100.64.0.0/10"},
		{"documentation range", "https://192.0.2.10/", "192.0.2.0/24"},
		{"loopback IPv6", "https://[::1]/", "loopback"},
		{"IPv4-mapped IPv6", "https://[::ffff:10.0.0.1]/", "10.0.0.0/8"},
		{"NAT64", "https://[64:ff9b::a9fe:a9fe]/", "169.254.0.0/16"},
		{"metadata IPv6", "https://[fd00:ec2::254]/", "fc00::/7"},
		{"link-local with zone", "https://[fe80::1%25eth0]/", "fe80::/10"},
		{"trailing dot on an IP", "https://127.0.0.1./", "loopback"},
		{"two trailing dots on an IP", "https://127.0.0.1../", "loopback"},
		{"unspecified IPv4", "https://0.0.0.0/", "0.0.0.0/8"},
		{"unspecified IPv6", "https://[::]/", "unspecified"},
		{"IPv4-mapped in hex", "https://[::ffff:7f00:1]/", "127.0.0.0/8"},
		{"IPv4-mapped spelt out", "https://[0:0:0:0:0:ffff:127.0.0.1]:8443/", "127.0.0.0/8"},
		{"IPv4-mapped loopback", "https://[::ffff:127.0.0.1]/", "127.0.0.0/8"},
		{"IPv4-compatible", "https://[::127.0.0.1]/", "127.0.0.0/8"},
		{"IPv4-translated (SIIT)", "https://[::ffff:0:127.0.0.1]/", "special-purpose"},
		{"6to4 of the metadata server", "https://[2002:a9fe:a9fe::]/", "169.254.0.0/16"},
		{"Teredo", "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "127.0.0.0/8"},
		{"site-local IPv6", "https://[fec0::1]/", "special-purpose"},
		{"multicast IPv6", "https://[ff02::1]/", "multicast"},
		{"fragment hiding a loopback host", "https://127.0.0.1#@example.com/", "loopback"},
		{"user-info hiding the host", "https://example.com@127.0.0.1/", "user name or password"},
		{"empty user-info", "https://:@example.com/", "user name or password"},
		{"escaped user-info", "https://example.com%2F@127.0.0.1/", "user name or password"},
		{"backslash before @", `https://example.com\@127.0.0.1/`, "could not be parsed"},
		{"percent-encoded host", "https://%31%32%37.0.0.1/", "could not be parsed"},
		{"port out of range", "https://example.com:65536/", "port"},
		{"port zero", "https://example.com:0/", "port"},
		{"IDNA full-width digits", "https://１２７.０.０.１/", "127.0.0.1 is a loopback"},
		{"IDNA ideographic full stops", "https://127。0。0。1/", "127.0.0.1 is a loopback"},
		{"IDNA full-width metadata address", "https://１６９.２５４.１６９.２５４/", "169.254.0.0/16"},
		{"IDNA circled localhost", "https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "local or internal name"},
		{"IDNA circled localhost subdomain", "https://api.ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "local or internal name"},
		{"IDNA full-width LOCALHOST", "https://ＬＯＣＡＬＨＯＳＴ./", "local or internal name"},
		{"IDNA metadata name", "https://metadata.google.ⓘⓝⓣⓔⓡⓝⓐⓛ/", "local or internal name"},
		{"IDNA math letters", "https://ℍ𝕠𝕤𝕥.internal/", "local or internal name"},
		{"invalid international name", "https://a͸b.example.com/", "not a valid international domain name"},

		{"decimal IPv4", "https://2130706433/", "127.0.0.1 is a loopback"},
		{"octal IPv4", "https://0177.0.0.1/", "127.0.0.1 is a loopback"},
		{"hex IPv4", "https://0x7f.0.0.1/", "127.0.0.1 is a loopback"},
		{"hex whole IPv4", "https://0x7F000001/", "127.0.0.1 is a loopback"},
		{"short IPv4", "https://127.1/", "127.0.0.1 is a loopback"},
		{"hex metadata", "https://0xa9fea9fe/", "169.254.169.254 is a link-local"},
		{"octal private", "https://012.0.0.1/", "10.0.0.1 is a private"},
		{"octal whole IPv4", "https://017700000001/", "127.0.0.1 is a loopback"},
		{"zero-padded octets", "https://127.000.000.001/", "127.0.0.1 is a loopback"},
		{"upper-case hex", "https://0X7F.1/", "127.0.0.1 is a loopback"},
		{"hex with a trailing dot", "https://0x7f000001./", "127.0.0.1 is a loopback"},
		{"zero", "https://0/", "0.0.0.0 is"},
		{"decimal metadata", "https://2852039166/", "169.254.169.254 is a link-local"},
		{"numeric but not an address", "https://999.1.1.1/", "neither a domain name nor a valid IP address"},

		{"localhost", "https://localhost/", "local or internal name"},
		{"localhost with two trailing dots", "https://localhost../", "local or internal name"},
		{"localhost on an odd port", "https://localhost:22/", "local or internal name"},
		{"localhost uppercase with dot", "https://LocalHost./", "local or internal name"},
		{"localhost subdomain", "https://api.localhost:8443/", "local or internal name"},
		{"metadata name", "https://metadata.google.internal/computeMetadata/v1/", "local or internal name"},
		{"internal name", "https://vm-1.us-central1-a.c.project.internal/", "local or internal name"},
		{"mDNS name", "https://printer.local/", "local or internal name"},
		{"single label", "https://metadata/computeMetadata/v1/", "not a fully qualified domain name"},
		{"resolves only to private addresses", "https://private.example.com/", "resolves only to addresses that are not public: 10.0.0.5 is a private network address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.CheckURL(context.Background(), tt.url)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("CheckURL(%.60q) = %v, want nil", tt.url, err)
			case tt.wantErr == "":
				return
			case err == nil:
				t.Fatalf("CheckURL(%.60q) = nil, want an error containing %q", tt.url, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrBlocked) {
				t.Errorf("error %q does not wrap ErrBlocked", err)
			}
			if strings.HasPrefix(err.Error(), "sender") {
				t.Errorf("error %q is not a user-facing sentence", err)
			}
		})
	}
}

func TestCheckURL_InsecureTargetsChecksOnlyTheShape(t *testing.T) {
	c := insecureClient(Options{})
	for _, u := range []string{
		"http://localhost:8080/hook",
		"http://127.0.0.1:9000/",
		"https://10.0.0.1/",
		"http://receiver/", // a container name in the local stack
	} {
		if err := c.CheckURL(context.Background(), u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range []string{"ftp://localhost/", "http://u:p@localhost/", "/hook", "http:///hook"} {
		if err := c.CheckURL(context.Background(), u); !errors.Is(err, ErrBlocked) {
			t.Errorf("CheckURL(%q) = %v, want ErrBlocked", u, err)
		}
	}
}

func TestParseIPv4Shorthand(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means not an IPv4 address
	}{
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0x7f.0.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"10.65536", "10.1.0.0"},
		{"0x", "0.0.0.0"},
		{"1.2.3.4", "1.2.3.4"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.1.1.1", ""},
		{"1.2.3.256", ""},
		{"1.2.65536", ""},
		{"08.1.1.1", ""}, // 8 is not an octal digit
		{"1..1", ""},
		{"1.2.3.4.5", ""},
		{"0xg", ""},
		{"99999999999999999999999", ""},
	}
	for _, tt := range tests {
		got, ok := parseIPv4Shorthand(tt.in)
		switch {
		case tt.want == "" && ok:
			t.Errorf("parseIPv4Shorthand(%q) = %s, want not an address", tt.in, got)
		case tt.want != "" && (!ok || got != netip.MustParseAddr(tt.want)):
			t.Errorf("parseIPv4Shorthand(%q) = %s, %v, want %s", tt.in, got, ok, tt.want)
		}
	}
}
