package audit_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/exchange/audit"
)

func Example() {
	tmp, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "audit")

	l, err := audit.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for _, ev := range []string{audit.EvUploaded, audit.EvRunFinished} {
		r, err := l.Append(audit.Record{Event: ev, Outcome: audit.OutcomeOK, Partner: "uk-hmrc"})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(r.Seq, r.Event, r.Prev == audit.ZeroHash)
	}
	sum, err := audit.Verify(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified", sum.Records, "records up to seq", sum.HeadSeq)
	// Output:
	// 1 bundle.uploaded true
	// 2 run.finished false
	// verified 2 records up to seq 2
}
