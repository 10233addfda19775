package sftpdrop

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"io/fs"
	"testing"
)

// nopWriteCloser takes the requests a pager sends and drops them.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// nameEntry encodes one SSH_FXP_NAME entry: name, long name, size and
// times.
func nameEntry(name string, size uint64) []byte {
	b := append(str(name), str("-rw-r--r-- 1 u g "+name)...)
	b = append(b, u32(attrSize|attrACModTime)...)
	b = binary.BigEndian.AppendUint64(b, size)
	return append(append(b, u32(1)...), u32(1700000000)...)
}

// FuzzReaddir feeds one answer to a READDIR request to the listing
// decoder, as a hostile server would send it (the id matches, the rest is
// the fuzzer's). It must not panic, and every entry it hands on carries a
// name exactly as the server sent it (never "." or "..", never rewritten,
// so that the name checks see the raw name), at most as many as the packet
// announces and holds.
func FuzzReaddir(f *testing.F) {
	two := append(u32(2), nameEntry("us_uk_request_0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f60.pgp", 1000)...)
	two = append(two, nameEntry(".", 4096)...)
	f.Add(byte(fxpName), two)
	f.Add(byte(fxpName), append(u32(1), nameEntry("../../etc/x.pgp", 1)...))
	f.Add(byte(fxpName), append(u32(1), nameEntry("", 1)...))
	f.Add(byte(fxpName), append(u32(3), nameEntry("a.pgp", 1<<63)...))
	ext := append(u32(1), str("e.pgp")...)
	ext = append(append(ext, str("")...), u32(attrExtended|attrPermissions|attrUIDGID)...)
	ext = append(append(append(append(ext, u32(1)...), u32(2)...), u32(0o100644)...), u32(0xffffffff)...)
	f.Add(byte(fxpName), ext)
	f.Add(byte(fxpStatus), append(u32(fxEOF), str("end")...))
	f.Add(byte(fxpStatus), append(u32(4), str("failure\x1b[2J")...))
	f.Add(byte(fxpHandle), str("h"))
	f.Fuzz(func(t *testing.T, typ byte, body []byte) {
		if len(body) > maxPagePacket-5 {
			return
		}
		var pkt []byte
		pkt = binary.BigEndian.AppendUint32(pkt, uint32(1+4+len(body)))
		pkt = append(append(append(pkt, typ), u32(1)...), body...)
		p := &pager{in: nopWriteCloser{io.Discard}, out: bufio.NewReader(bytes.NewReader(pkt))}
		var got []fs.FileInfo
		end, n, err := p.readdir("h", func(fi fs.FileInfo) { got = append(got, fi) })
		if end && (err != nil || n != 0 || len(got) != 0) {
			t.Fatalf("end of folder with %d entries, error %v", n, err)
		}
		if len(got) > n || err == nil && 12*n > len(body) {
			t.Fatalf("%d entries handed on, %d read, from %d bytes", len(got), n, len(body))
		}
		if typ == fxpName && err == nil && len(body) >= 4 && uint32(n) != binary.BigEndian.Uint32(body) {
			t.Fatalf("%d entries read, the packet announces %d", n, binary.BigEndian.Uint32(body))
		}
		for _, fi := range got {
			name := fi.Name()
			if name == "." || name == ".." || !bytes.Contains(body, str(name)) {
				t.Fatalf("entry named %q: not a name the server sent", name)
			}
		}
	})
}
