package crypto

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestExpiry checks the expiry reported for our key and a partner's keys:
// a key made with a lifetime expires that long after its creation, one
// made without never expires, and an expired key no longer loads as ours.
func TestExpiry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, opt KeyOptions) (string, string, string) {
		secret, public, fp, err := GenerateKeyWith(name, opt)
		if err != nil {
			t.Fatal(err)
		}
		sp, pp := filepath.Join(dir, name+".secret.asc"), filepath.Join(dir, name+".public.asc")
		writeFile(t, sp, secret)
		writeFile(t, pp, public)
		return sp, pp, fp
	}
	created := time.Now().Add(-time.Hour).Truncate(time.Second)
	soonSecret, soonPublic, soonFP := write("soon", KeyOptions{Lifetime: 10 * 24 * time.Hour, Created: created})
	_, neverPublic, neverFP := write("never", KeyOptions{})
	expiredSecret, _, _ := write("expired", KeyOptions{Lifetime: 24 * time.Hour, Created: time.Now().Add(-48 * time.Hour)})

	self, err := LoadSelf(soonSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := created.Add(10 * 24 * time.Hour).UTC()
	if got := self.Expiry(); got.Fingerprint != soonFP || got.Expires == nil || !got.Expires.Equal(want) {
		t.Fatalf("our key's expiry: got %+v, want %s at %s", got, soonFP, want)
	}

	// A partner rotating keys: both files' keys in one, both pinned.
	both := filepath.Join(dir, "both.public.asc")
	writeFile(t, both, append(readAll(t, soonPublic), readAll(t, neverPublic)...))
	peer, err := LoadPeer(both, []string{soonFP, neverFP})
	if err != nil {
		t.Fatal(err)
	}
	got := peer.Expiries()
	if len(got) != 2 || got[0].Fingerprint != soonFP || got[0].Expires == nil || !got[0].Expires.Equal(want) ||
		got[1].Fingerprint != neverFP || got[1].Expires != nil {
		t.Fatalf("partner's expiries: %+v", got)
	}

	if _, err := LoadSelf(expiredSecret, nil); err == nil {
		t.Fatal("an expired key loaded as ours")
	}
}

// TestUsableUntilSubkey: an encryption subkey expiring before the primary
// key ends the key's usable life.
func TestUsableUntilSubkey(t *testing.T) {
	t.Parallel()
	early := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	late := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		info KeyInfo
		want *time.Time
	}{
		{"never", KeyInfo{Subkeys: []SubkeyInfo{{Encrypt: true}}}, nil},
		{"primary", KeyInfo{Expires: &late, Subkeys: []SubkeyInfo{{Encrypt: true}}}, &late},
		{"subkey first", KeyInfo{Expires: &late, Subkeys: []SubkeyInfo{{Encrypt: true, Expires: &early}}}, &early},
		{"latest subkey counts", KeyInfo{Subkeys: []SubkeyInfo{{Encrypt: true, Expires: &early}, {Encrypt: true, Expires: &late}}}, &late},
		{"revoked subkey ignored", KeyInfo{Subkeys: []SubkeyInfo{{Encrypt: true, Expires: &early}, {Encrypt: true, Revoked: true}}}, &early},
		{"signing subkey ignored", KeyInfo{Subkeys: []SubkeyInfo{{Sign: true, Expires: &early}}}, nil},
	} {
		got := tc.info.UsableUntil()
		if (got == nil) != (tc.want == nil) || got != nil && !got.Equal(*tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGenerateKeyLifetimeRange(t *testing.T) {
	t.Parallel()
	if _, _, _, err := GenerateKeyWith("x", KeyOptions{Lifetime: -time.Second}); err == nil {
		t.Fatal("a negative lifetime was accepted")
	}
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
