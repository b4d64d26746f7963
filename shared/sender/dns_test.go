package sender

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// answerFunc returns the addresses for a fully qualified, lower-case name
// and a query type; ok=false answers NXDOMAIN. It may count calls.
type answerFunc func(name string, qtype dnsmessage.Type) (addrs []netip.Addr, ok bool)

// startDNS runs a tiny authoritative DNS server on UDP 127.0.0.1 and returns
// a resolver that sends every query to it, whatever the system configures.
func startDNS(t *testing.T, answer answerFunc) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go serveDNS(pc, answer)

	addr := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

func serveDNS(pc net.PacketConn, answer answerFunc) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		if reply, ok := dnsReply(buf[:n], answer); ok {
			_, _ = pc.WriteTo(reply, from)
		}
	}
}

func dnsReply(query []byte, answer answerFunc) ([]byte, bool) {
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	addrs, ok := answer(lower(q.Name.String()), q.Type)
	rh := dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true, RecursionAvailable: true}
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	rrh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}
	for _, a := range addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			err = b.AResource(rrh, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			err = b.AAAAResource(rrh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, false
		}
	}
	reply, err := b.Finish()
	return reply, err == nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// staticDNS answers a fixed table of names and NXDOMAIN for everything else.
func staticDNS(table map[string][]string) answerFunc {
	return func(name string, _ dnsmessage.Type) ([]netip.Addr, bool) {
		ips, ok := table[name]
		if !ok {
			return nil, false
		}
		addrs := make([]netip.Addr, len(ips))
		for i, s := range ips {
			addrs[i] = netip.MustParseAddr(s)
		}
		return addrs, true
	}
}
