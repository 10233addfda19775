package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// manifestJSON returns a valid manifest of kind as a JSON object, changed by edit.
func manifestJSON(t *testing.T, kind string, edit func(map[string]any)) []byte {
	t.Helper()
	m := testManifest(kind)
	if kind != KindReceipt {
		m.Files = []File{{Path: "payload/a.pdf", Size: 3, SHA256: sha256Hex("pdf")}, {Path: "payload/b/c.txt", Size: 0, SHA256: sha256Hex("")}}
	}
	var obj map[string]any
	if err := json.Unmarshal(mustJSON(t, m), &obj); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(obj)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// file0 returns the first entry of the files member.
func file0(o map[string]any) map[string]any { return o["files"].([]any)[0].(map[string]any) }

func receiptOf(o map[string]any) map[string]any { return o["receipt"].(map[string]any) }

func TestParseManifestAccepts(t *testing.T) {
	cases := map[string][]byte{
		"request":  manifestJSON(t, KindRequest, nil),
		"response": manifestJSON(t, KindResponse, nil),
		"receipt":  manifestJSON(t, KindReceipt, nil),
		"rejected receipt for an unreadable file": manifestJSON(t, KindReceipt, func(o map[string]any) {
			o["in_reply_to"] = ""
			receiptOf(o)["for"] = "us-cbp_uk-hmrc_request_x.pgp"
			receiptOf(o)["status"], receiptOf(o)["code"], receiptOf(o)["reason"] = "rejected", "decrypt", "not encrypted to us"
		}),
		"unknown members at every level": manifestJSON(t, KindReceipt, func(o map[string]any) {
			o["x-future"] = map[string]any{"Format": 1, "nested": []any{1, "two"}}
			receiptOf(o)["signed_by"] = "abc"
		}),
		"unknown member in a file":   manifestJSON(t, KindRequest, func(o map[string]any) { file0(o)["mode"] = 420 }),
		"log head":                   manifestJSON(t, KindRequest, func(o map[string]any) { o["log_head"] = map[string]any{"seq": 7, "sha256": sha256Hex("x")} }),
		"request answering a bundle": manifestJSON(t, KindRequest, func(o map[string]any) { o["in_reply_to"] = NewID() }),
		"created with an offset":     manifestJSON(t, KindRequest, func(o map[string]any) { o["created"] = "2026-11-28T00:04:35+02:00" }),
		"no reference member":        manifestJSON(t, KindRequest, func(o map[string]any) { delete(o, "reference") }),
		"uuid of another version":    manifestJSON(t, KindRequest, func(o map[string]any) { o["id"] = "f47ac10b-58cc-4372-a567-0e02b2c3d479" }),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseManifest(data); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseManifestRefuses(t *testing.T) {
	edit := func(kind string, f func(map[string]any)) []byte { return manifestJSON(t, kind, f) }
	set := func(kind, key string, v any) []byte {
		return edit(kind, func(o map[string]any) { o[key] = v })
	}
	base := string(manifestJSON(t, KindRequest, nil))
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	cases := []struct {
		name string
		data []byte
		text string
	}{
		{"wrong format", set(KindRequest, "format", "sealpost-bundle/2"), "format"},
		{"no format", edit(KindRequest, func(o map[string]any) { delete(o, "format") }), "format"},
		{"uppercase id", set(KindRequest, "id", strings.ToUpper(NewID())), "id"},
		{"id not a uuid", set(KindRequest, "id", "0193b2c4-6d2e-7c1a-9f00-3b1c2d4e5f6"), "id"},
		{"unknown kind", set(KindRequest, "kind", "invoice"), "kind"},
		{"bad sender", set(KindRequest, "sender", "US-CBP"), "sender"},
		{"sender starting with a dash", set(KindRequest, "sender", "-cbp"), "sender"},
		{"sender too long", set(KindRequest, "sender", strings.Repeat("a", 33)), "sender"},
		{"bad recipient", set(KindRequest, "recipient", "uk_hmrc"), "recipient"},
		{"sender is recipient", set(KindRequest, "recipient", "us-cbp"), "both"},
		{"created not RFC 3339", set(KindRequest, "created", "2026-11-27 22:04:35"), "created"},
		{"no created", edit(KindRequest, func(o map[string]any) { delete(o, "created") }), "created"},
		{"no files", edit(KindRequest, func(o map[string]any) { delete(o, "files") }), "files is missing"},
		{"files null", set(KindReceipt, "files", nil), "files is missing"},
		{"request without files", set(KindRequest, "files", []any{}), "no files"},
		{"response without files", set(KindResponse, "files", []any{}), "no files"},
		{"path outside payload", edit(KindRequest, func(o map[string]any) { file0(o)["path"] = "other/a" }), "payload/"},
		{"path with dot-dot", edit(KindRequest, func(o map[string]any) { file0(o)["path"] = "payload/../a" }), `".."`},
		{"absolute path", edit(KindRequest, func(o map[string]any) { file0(o)["path"] = "/payload/a" }), "absolute"},
		{"path with empty component", edit(KindRequest, func(o map[string]any) { file0(o)["path"] = "payload//a" }), "empty"},
		{"payload itself", edit(KindRequest, func(o map[string]any) { file0(o)["path"] = "payload" }), "payload/"},
		{"duplicate path", edit(KindRequest, func(o map[string]any) { file0(o)["path"] = "payload/b/c.txt" }), "twice"},
		{"duplicate path after folding", edit(KindRequest, func(o map[string]any) { file0(o)["path"] = "payload/B/C.TXT" }), "collides"},
		{"file under a file", edit(KindRequest, func(o map[string]any) { file0(o)["path"] = "payload/b/c.txt/d" }), "both a file and a folder"},
		{"negative size", edit(KindRequest, func(o map[string]any) { file0(o)["size"] = -1 }), "negative"},
		{"fractional size", edit(KindRequest, func(o map[string]any) { file0(o)["size"] = 1.5 }), "parse"},
		{"uppercase sha256", edit(KindRequest, func(o map[string]any) { file0(o)["sha256"] = strings.ToUpper(sha256Hex("pdf")) }), "sha256"},
		{"short sha256", edit(KindRequest, func(o map[string]any) { file0(o)["sha256"] = "abcd" }), "sha256"},
		{"receipt with files", edit(KindReceipt, func(o map[string]any) {
			o["files"] = []any{map[string]any{"path": "payload/a", "size": 0, "sha256": sha256Hex("")}}
		}), "receipt lists"},
		{"receipt without receipt member", edit(KindReceipt, func(o map[string]any) { delete(o, "receipt") }), "no receipt member"},
		{"request with receipt member", edit(KindRequest, func(o map[string]any) { o["receipt"] = map[string]any{} }), "has a receipt member"},
		{"receipt status unknown", edit(KindReceipt, func(o map[string]any) { receiptOf(o)["status"] = "ok" }), "status"},
		{"receipt code unknown", edit(KindReceipt, func(o map[string]any) { receiptOf(o)["status"], receiptOf(o)["code"] = "rejected", "virus" }), "code"},
		{"filed receipt with a code", edit(KindReceipt, func(o map[string]any) { receiptOf(o)["code"] = "archive" }), "filed"},
		{"receipt for empty", edit(KindReceipt, func(o map[string]any) { receiptOf(o)["for"] = "" }), "for"},
		{"receipt for another bundle", edit(KindReceipt, func(o map[string]any) { receiptOf(o)["for"] = NewID() }), "in_reply_to"},
		{"receipt bad ciphertext hash", edit(KindReceipt, func(o map[string]any) { receiptOf(o)["ciphertext_sha256"] = "" }), "ciphertext_sha256"},
		{"response without in_reply_to", set(KindResponse, "in_reply_to", ""), "in_reply_to"},
		{"in_reply_to not a uuid", set(KindRequest, "in_reply_to", "CASE-1"), "in_reply_to"},
		{"bad log head", set(KindRequest, "log_head", map[string]any{"seq": 1, "sha256": "x"}), "log_head"},
		{"negative log head seq", set(KindRequest, "log_head", map[string]any{"seq": -1, "sha256": sha256Hex("")}), "log_head"},
		{"member twice", []byte(strings.Replace(base, `"kind":`, `"kind":"response","kind":`, 1)), "twice"},
		{"member twice in another case", []byte(strings.Replace(base, `"kind":`, `"kind":"response","KIND":`, 1)), "twice"},
		{"member in another case", []byte(strings.Replace(base, `"sender":`, `"Sender":`, 1)), "spelled"},
		{"member spelled with the Kelvin sign", []byte(strings.Replace(base, `"kind":`, `"\u212aind":`, 1)), "spelled"},
		{"file member in another case", []byte(strings.Replace(base, `"path":`, `"Path":`, 1)), "spelled"},
		{"not an object", []byte(`[` + base + `]`), "not an object"},
		{"trailing data", []byte(base + `{}`), "follows"},
		{"not JSON", []byte(`{"format":`), "manifest.json"},
		{"invalid UTF-8", []byte(strings.Replace(base, "CASE", "\xff", 1)), "UTF-8"},
		{"deep nesting", []byte(strings.Replace(base, `{`, `{"x":`+deep+`,`, 1)), "nest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseManifest(c.data)
			if !errors.Is(err, ErrManifest) || m != nil {
				t.Fatalf("ParseManifest: %v, want ErrManifest", err)
			}
			if !strings.Contains(err.Error(), c.text) {
				t.Errorf("error %q does not say %q", err, c.text)
			}
		})
	}
}

func TestParseManifestSizeCap(t *testing.T) {
	data := manifestJSON(t, KindRequest, func(o map[string]any) { o["reference"] = strings.Repeat("x", MaxManifestSize) })
	if _, err := ParseManifest(data); !errors.Is(err, ErrLimits) {
		t.Fatalf("ParseManifest of %d bytes: %v, want ErrLimits", len(data), err)
	}
}

func TestCode(t *testing.T) {
	for want, err := range map[string]error{
		"archive":  fmt.Errorf("x: %w", ErrArchive),
		"manifest": fmt.Errorf("x: %w", ErrManifest),
		"limits":   fmt.Errorf("x: %w", ErrLimits),
		"":         errors.New("disk full"),
	} {
		if got := Code(err); got != want {
			t.Errorf("Code(%v) = %q, want %q", err, got, want)
		}
	}
}

// TestParseManifestBoundsText: a partner's free text is bounded where it
// enters (reference, receipt.reason, receipt.for), and whatever member of
// the manifest is huge, the error that refuses it stays short, so that it
// can be logged and answered in a receipt.
func TestParseManifestBoundsText(t *testing.T) {
	huge := strings.Repeat("\u200b", 1<<20/3)
	edit := func(kind string, f func(map[string]any)) []byte { return manifestJSON(t, kind, f) }
	rejected := func(o map[string]any) {
		o["in_reply_to"] = ""
		receiptOf(o)["for"], receiptOf(o)["status"], receiptOf(o)["code"] = "x.pgp", "rejected", "decrypt"
	}
	base := string(manifestJSON(t, KindRequest, nil))
	cases := map[string][]byte{
		"reference over the bound": edit(KindRequest, func(o map[string]any) { o["reference"] = strings.Repeat("r", MaxReference+1) }),
		"1 MiB reference":          edit(KindRequest, func(o map[string]any) { o["reference"] = huge }),
		"reason over the bound": edit(KindReceipt, func(o map[string]any) {
			rejected(o)
			receiptOf(o)["reason"] = strings.Repeat("r", MaxReason+1)
		}),
		"1 MiB reason": edit(KindReceipt, func(o map[string]any) { rejected(o); receiptOf(o)["reason"] = huge }),
		"1 MiB for":    edit(KindReceipt, func(o map[string]any) { rejected(o); receiptOf(o)["for"] = huge }),
		"1 MiB format": edit(KindRequest, func(o map[string]any) { o["format"] = huge }),
		"1 MiB id":     edit(KindRequest, func(o map[string]any) { o["id"] = huge }),
		"1 MiB kind":   edit(KindRequest, func(o map[string]any) { o["kind"] = huge }),
		"1 MiB sender": edit(KindRequest, func(o map[string]any) { o["sender"] = huge }),
		"1 MiB date":   edit(KindRequest, func(o map[string]any) { o["created"] = huge }),
		"1 MiB reply":  edit(KindRequest, func(o map[string]any) { o["in_reply_to"] = huge }),
		"1 MiB path":   edit(KindRequest, func(o map[string]any) { file0(o)["path"] = "payload/" + huge }),
		"1 MiB sha256": edit(KindRequest, func(o map[string]any) { file0(o)["sha256"] = huge }),
		"1 MiB status": edit(KindReceipt, func(o map[string]any) { receiptOf(o)["status"] = huge }),
		"1 MiB number": []byte(strings.Replace(base, `"size":3`, `"size":1`+strings.Repeat("0", 1<<20), 1)),
		"1 MiB member twice": []byte(strings.Replace(base, `"kind":`,
			`"`+huge+`":1,"`+huge+`":2,"kind":`, 1)),
	}
	for name, data := range cases {
		_, err := ParseManifest(data)
		if !errors.Is(err, ErrManifest) {
			t.Errorf("%s: ParseManifest = %.200v, want ErrManifest", name, err)
			continue
		}
		if len(err.Error()) > 2000 {
			t.Errorf("%s: the error is %d bytes long", name, len(err.Error()))
		}
	}
	atBound := edit(KindRequest, func(o map[string]any) { o["reference"] = strings.Repeat("r", MaxReference) })
	if _, err := ParseManifest(atBound); err != nil {
		t.Errorf("a reference of %d bytes: %v", MaxReference, err)
	}
}
