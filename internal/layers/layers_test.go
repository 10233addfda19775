package layers

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sealpost/sealpost/"

// layer gives each package of the module its layer, from the top (the
// command line) down. Test-support packages sit where their imports put them.
var layer = map[string]int{
	"cmd/sealpost": 6, "contrib/gpg-partner": 6,

	"check": 5, "demo": 5, "metrics": 5, "schedule": 5, "bundlefile": 5,
	"internal/testworld": 5,

	"exchange": 4,

	"exchange/sftpdrop": 3, "exchange/localdrop": 3, "exchange/audit": 3,
	"exchange/audit/report": 3, "exchange/bundle": 3, "exchange/drop": 3,
	"exchange/drop/droptest": 3, "exchange/sealed": 3,

	"config": 2, "crypto": 2,

	"internal/chunkpipe": 1, "internal/crash": 1, "internal/faultproxy": 1,
	"internal/fsx": 1, "internal/pgptest": 1, "internal/safeopen": 1,
	"internal/safetext": 1, "internal/sftpd": 1, "internal/sshdtest": 1,
	"internal/layers": 1, "internal/progress": 1,
}

// sideways are the imports allowed within one layer: the transports and
// their conformance suite speak drop's vocabulary, the report reads the log,
// and a sealed bundle is a bundle under OpenPGP.
var sideways = map[[2]string]bool{
	{"exchange/sftpdrop", "exchange/drop"}:      true,
	{"exchange/localdrop", "exchange/drop"}:     true,
	{"exchange/drop/droptest", "exchange/drop"}: true,
	{"exchange/audit/report", "exchange/audit"}: true,
	{"exchange/sealed", "exchange/bundle"}:      true,
}

type pkg struct {
	ImportPath string
	Imports    []string
}

// TestLayers fails when a package imports one above it (a part that knows
// its engine, an engine that knows a client) or one beside it without a
// reason listed in sideways, and when a package has no layer.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := map[string]bool{}
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		from := strings.TrimPrefix(p.ImportPath, module)
		seen[from] = true
		lf, ok := layer[from]
		if !ok {
			t.Errorf("package %s has no layer: add it to the table in layers_test.go and to docs/architecture.md", from)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := strings.TrimPrefix(imp, module)
			lt, ok := layer[to]
			switch {
			case !ok:
				// reported as its own package
			case lt > lf:
				t.Errorf("%s (layer %d) imports %s (layer %d): a layer may only use the layers below it", from, lf, to, lt)
			case lt == lf && !sideways[[2]string{from, to}]:
				t.Errorf("%s imports %s of its own layer (%d) without a reason in sideways", from, to, lf)
			}
		}
	}
	for name := range layer {
		if !seen[name] {
			t.Errorf("the table gives a layer to %s, which go list does not find: remove it", name)
		}
	}
}
