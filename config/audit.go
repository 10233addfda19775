package config

import "path/filepath"

// Audit configures the exchange log: when its current file is rotated, and
// the daemon's signed checkpoints of its head.
type Audit struct {
	Rotate        string // "monthly" (default) or "none"
	MaxFileBytes  int64  // also rotate once the current file holds this much; 0 = no size limit
	Checkpoint    string // cron spec of the daemon's checkpoints; "" = none
	CheckpointDir string // absolute; default state_dir/checkpoints
}

func (w *walker) auditFields(a *Audit) fields {
	return fields{
		"rotate":         w.oneOf(&a.Rotate, "monthly", "none"),
		"max_file_size":  w.size(&a.MaxFileBytes),
		"checkpoint":     w.cronSpec(&a.Checkpoint),
		"checkpoint_dir": w.path(&a.CheckpointDir, CheckOwner),
	}
}

// auditDefaults fills in what the audit section leaves out; state_dir must
// be known.
func auditDefaults(a *Audit, stateDir string) {
	if a.Rotate == "" {
		a.Rotate = "monthly"
	}
	if a.CheckpointDir == "" {
		a.CheckpointDir = filepath.Join(stateDir, "checkpoints")
	}
}
