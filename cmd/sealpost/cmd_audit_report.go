package main

import (
	"context"
	"fmt"
	"time"

	auditreport "github.com/sealpost/sealpost/exchange/audit/report"
	"github.com/sealpost/sealpost/internal/fsx"
)

var auditReportCommand = &command{
	name:     "audit report",
	summary:  "a self-contained HTML report",
	synopsis: "audit report -o FILE [--since T] [--until T] [--partner P] [--dir FOLDER]",
	examples: "  sealpost audit report -o report.html\n" +
		"  sealpost audit report -o nov.html --since 2026-11-01 --until 2026-11-30 --partner uk-hmrc\n" +
		"  sealpost audit report --dir /mnt/copy-of-audit -o report.html   # without a configuration\n" +
		"--html FILE, a deprecated spelling of -o/--output, still works.",
	run: cmdAuditReport,
}

func cmdAuditReport(_ context.Context, e *env, args []string) error {
	fs := e.newFlags()
	html := fs.output("write the report to `FILE`: one self-contained HTML page (required)")
	fs.deprecated("html", "output")
	partner := fs.String("partner", "", "only this partner")
	dir := fs.String("dir", "", "the audit folder to read (default: state_dir/audit of the configuration)")
	when := fs.when()
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *html == "" {
		return usagef("audit report needs -o FILE")
	}
	since, until, err := when.parse()
	if err != nil {
		return err
	}
	src, err := e.auditSource(*dir)
	if err != nil {
		return err
	}
	opt := auditreport.Options{Partner: *partner, Since: since, Until: until, Now: time.Now(), Dues: src.dues}
	if src.cfg != nil {
		opt.Self = src.cfg.Identity.ID
	}
	r, err := auditreport.Build(src.dir, opt)
	if err != nil {
		return err
	}
	if err := writeReport(*html, r); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "report written to %s: %d records in the window, %d partner(s), %d awaited (%d overdue), %d refused\n",
		*html, r.Records, len(r.Partners), len(r.Awaited), r.Overdue(), len(r.Refusals)+r.MoreRefused)
	if !r.Chain.OK {
		return &failedError{fmt.Sprintf("exchange log in %s does not verify: %s (the report says so)", src.dir, r.Chain.Error)}
	}
	return nil
}

// writeReport writes the page atomically, readable by its owner only.
func writeReport(path string, r *auditreport.Report) error {
	f, err := fsx.CreateTemp(path, 0o600)
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := r.WriteHTML(f); err != nil {
		f.Abort()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return f.Commit()
}
