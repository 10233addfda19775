package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/safetext"
)

// deepPath is a path of depth components ending in file name f.
func deepPath(depth int, branch, f string) string {
	return "payload/" + branch + strings.Repeat("/d", depth-3) + "/" + f
}

// TestReadRefusesDeepPathsBeforeWork: a 12 KB tar whose one path is 2,000
// folders deep (once 40 s of work, quadratic in depth) is refused as
// "archive" before anything is created, as is every path over a name bound;
// a path at the depth bound is extracted.
func TestReadRefusesDeepPathsBeforeWork(t *testing.T) {
	deep := "payload/" + strings.Repeat("a/", 2000) + "f"
	long := "payload/" + strings.Repeat("b", 300000)
	cases := map[string]string{
		"2000 levels":        deep,
		"65 levels":          deepPath(maxPathDepth+1, "a", "f"),
		"300,000-byte name":  long,
		"4097-byte path":     "payload/" + strings.Repeat("c/", 2044) + "ccccc",
		"256-byte component": "payload/" + strings.Repeat("e", 256),
	}
	for what, name := range cases {
		t.Run(what, func(t *testing.T) {
			data := craft(t, reg(name, "x"), reg("payload/z", "z"))
			_, dir, err := readInSandbox(t, bytes.NewReader(data), Limits{MaxBytes: 1 << 20, MaxFiles: 10000}, Expect{})
			if !errors.Is(err, ErrArchive) || Code(err) != "archive" {
				t.Fatalf("Read = %v, want an archive refusal", err)
			}
			if len(err.Error()) > 2000 || !strings.Contains(err.Error(), safetext.Quote(name)) {
				t.Errorf("the error does not name the entry briefly: %d bytes", len(err.Error()))
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("Read created %d entries before refusing", len(ents))
			}
		})
	}
	t.Run("64 levels", func(t *testing.T) {
		files := bundleOf(t, reg(deepPath(maxPathDepth, "a", "f"), "x"))
		m, dir, err := readInSandbox(t, bytes.NewReader(craft(t, files...)), Limits{MaxBytes: 1 << 20, MaxFiles: 100}, Expect{})
		if err != nil || len(m.Files) != 1 {
			t.Fatalf("Read = %v", err)
		}
		if _, err := os.Stat(dir + "/" + deepPath(maxPathDepth, "a", "f")); err != nil {
			t.Error(err)
		}
	})
}

// TestReadWorkIsLinear counts the folders Read opens. Entries grouped by
// folder (as tar writes them) open each folder once, however deep and
// however many; entries that jump between two branches 64 deep (which
// would reopen 62 folders each) are refused once they pass
// reopensPerEntry opens per entry, before the work grows.
func TestReadWorkIsLinear(t *testing.T) {
	const n = 2000
	var same, grouped, alternate []entry
	for i := range n {
		f := fmt.Sprint("f", i)
		same = append(same, reg(deepPath(maxPathDepth, "a", f), "x"))
		grouped = append(grouped, reg(deepPath(maxPathDepth, string(rune('a'+2*i/n)), f), "x"))
		alternate = append(alternate, reg(deepPath(maxPathDepth, string(rune('a'+i%2)), f), "x"))
	}
	folders := 2*(maxPathDepth-2) + 1
	lim := Limits{MaxBytes: 64 << 20, MaxFiles: n}
	for what, c := range map[string]struct {
		entries []entry
		most    int
		refused bool
	}{
		"same folder":         {same, maxPathDepth - 1, false},
		"grouped by folder":   {grouped, folders, false},
		"alternating folders": {alternate, maxPathDepth + (1+reopensPerEntry)*folders + reopensPerEntry*n, true},
	} {
		root, err := os.OpenRoot(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		x := newExtractor(bytes.NewReader(craft(t, bundleOf(t, c.entries...)...)), root, lim, Expect{})
		_, err = x.run()
		if c.refused != (err != nil) || c.refused && Code(err) != "archive" {
			t.Errorf("%s: Read = %v, want refused %v", what, err, c.refused)
		}
		if x.dirs.opens > c.most {
			t.Errorf("%s: %d entries %d deep opened %d folders, more than %d", what, n, maxPathDepth, x.dirs.opens, c.most)
		}
		t.Logf("%s: %d folders opened, error %v", what, x.dirs.opens, err)
		x.dirs.close()
		root.Close()
	}
}

// invisibleNames are payload names holding a character that does not show
// as itself: format characters (Cf), separators, private use, noncharacters.
var invisibleNames = []string{"a\u200bb", "a\u2060b", "\ufeffa", "so\u00adft", "a\u200eb", "x\u202egpj.exe",
	"a\u2066b", "tag\U000e0041", "a\u180eb", "a\u2028b", "a\u2029b", "a\ue000b", "a\ufdd0b", "a\uffffb",
	"a\ufe0fb", "a\u034fb", "a\u3164b", "a\u0085b"}

// TestReadRefusesInvisibleNames: a tar member whose name holds an
// invisible character is refused as "archive", and such a name cannot be sent.
func TestReadRefusesInvisibleNames(t *testing.T) {
	for _, name := range invisibleNames {
		data := craft(t, bundleOf(t, reg("payload/"+name, "x"))...)
		_, _, err := readInSandbox(t, bytes.NewReader(data), okLimits, Expect{})
		if Code(err) != "archive" {
			t.Errorf("Read of %+q = %v, want an archive refusal", name, err)
		}
		if err := checkSourceName(name, name); !errors.Is(err, ErrUnsafeSource) {
			t.Errorf("sending %+q: %v, want ErrUnsafeSource", name, err)
		}
	}
}
