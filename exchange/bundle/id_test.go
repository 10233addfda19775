package bundle

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNewIDIsUUIDv7(t *testing.T) {
	before := time.Now().UnixMilli()
	id := NewID()
	after := time.Now().UnixMilli()
	if !ValidID(id) {
		t.Fatalf("NewID() = %q, not a lowercase canonical UUID", id)
	}
	if id[14] != '7' {
		t.Errorf("NewID() = %q: version %c, want 7", id, id[14])
	}
	if !strings.ContainsRune("89ab", rune(id[19])) {
		t.Errorf("NewID() = %q: variant nibble %c, want 8, 9, a or b", id, id[19])
	}
	ms, err := strconv.ParseInt(id[:8]+id[9:13], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if ms < before || ms > after+1 {
		t.Errorf("NewID() = %q: timestamp %d not within [%d, %d]", id, ms, before, after)
	}
}

func TestNewIDIsMonotonicAndUnique(t *testing.T) {
	prev := NewID()
	seen := map[string]bool{prev: true}
	for range 100000 {
		id := NewID()
		if id <= prev || seen[id] {
			t.Fatalf("NewID() = %s after %s", id, prev)
		}
		if id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("NewID() = %s lost its version or variant", id)
		}
		seen[id] = true
		prev = id
	}
}

func TestNewIDCarriesIntoTheTimestamp(t *testing.T) {
	lastID.Lock()
	saved := lastID.ms
	future := time.Now().UnixMilli() + 60000
	lastID.ms, lastID.randA, lastID.randB, lastID.issued = future, randAMask, randBMask, true
	lastID.Unlock()
	t.Cleanup(func() {
		lastID.Lock()
		lastID.ms = saved
		lastID.Unlock()
	})
	id := NewID()
	raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	if raw[6] != 0x70 || raw[7] != 0 || raw[8]&0xc0 != 0x80 {
		t.Errorf("NewID() = %s after the counter overflowed: want rand_a 0 and the variant kept", id)
	}
	if ms, _ := strconv.ParseInt(id[:8]+id[9:13], 16, 64); ms != future+1 {
		t.Errorf("NewID() = %s: timestamp %d, want %d", id, ms, future+1)
	}
}

func TestFileName(t *testing.T) {
	m := testManifest(KindResponse)
	for _, armored := range []bool{false, true} {
		name := FileName(m, armored)
		want := "us-cbp_uk-hmrc_response_" + m.ID + map[bool]string{false: ".pgp", true: ".asc"}[armored]
		if name != want {
			t.Errorf("FileName = %q, want %q", name, want)
		}
		n, ok := ParseFileName(name)
		wantName := DropName{Sender: "us-cbp", Recipient: "uk-hmrc", Kind: KindResponse, ID: m.ID, Armored: armored}
		if !ok || n != wantName {
			t.Errorf("ParseFileName(%q) = %+v %v", name, n, ok)
		}
	}
}

func TestParseFileNameRefuses(t *testing.T) {
	id := NewID()
	for _, name := range []string{
		"",
		"us-cbp_uk-hmrc_request_" + id,
		"us-cbp_uk-hmrc_request_" + id + ".gpg",
		"us-cbp_uk-hmrc_request_" + id + ".pgp.part",
		".us-cbp_uk-hmrc_request_" + id + ".pgp",
		"us-cbp_uk-hmrc_invoice_" + id + ".pgp",
		"US-CBP_uk-hmrc_request_" + id + ".pgp",
		"us-cbp_uk-hmrc_request_" + strings.ToUpper(id) + ".pgp",
		"us-cbp_uk-hmrc_request_x_" + id + ".pgp",
		"us-cbp_uk-hmrc_request_not-a-uuid.asc",
		"us-cbp__request_" + id + ".pgp",
		"../us-cbp_uk-hmrc_request_" + id + ".pgp",
	} {
		if _, ok := ParseFileName(name); ok {
			t.Errorf("ParseFileName(%q) accepted it", name)
		}
	}
}

func TestValidPartyID(t *testing.T) {
	for s, want := range map[string]bool{
		"us-cbp": true, "a": true, "0": true, "uk-hmrc-2": true, strings.Repeat("a", 32): true,
		"": false, "-a": false, "US": false, "a_b": false, "a.b": false, strings.Repeat("a", 33): false, "é": false,
	} {
		if got := ValidPartyID(s); got != want {
			t.Errorf("ValidPartyID(%q) = %v, want %v", s, got, want)
		}
	}
}
