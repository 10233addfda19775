package sshdtest

import (
	"os"
	"strings"
	"testing"
)

func TestStartServesSSHWithItsKnownHostsLine(t *testing.T) {
	s := Start(t)
	if !banner(s.Addr) {
		t.Fatalf("no SSH banner from %s", s.Addr)
	}
	kh, err := os.ReadFile(s.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(kh)); got != s.HostKeyLine || !strings.Contains(got, " ssh-ed25519 ") {
		t.Errorf("known_hosts = %q, want the ed25519 line %q", got, s.HostKeyLine)
	}
	if !strings.Contains(s.RSAHostKeyLine, " ssh-rsa ") {
		t.Errorf("RSAHostKeyLine = %q, want an ssh-rsa line", s.RSAHostKeyLine)
	}
	if fi, err := os.Stat(s.Root); err != nil || !fi.IsDir() {
		t.Errorf("Root %s is not a folder: %v", s.Root, err)
	}
}
